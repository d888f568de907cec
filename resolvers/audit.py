"""The audit trail of configuration changes (admin)."""

from __future__ import annotations

from domain import reads
from resolvers.context import RequestContext


async def audit_trail(ctx: RequestContext, first: int, after: str | None) -> reads.AuditPage:
    return await reads.audit_trail(ctx.deps, ctx.require_principal().scope, first, after)
