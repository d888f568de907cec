"""The audit trail of configuration changes (admin)."""

from __future__ import annotations

from typing import cast

from strawberry.scalars import JSON

from domain import reads
from schema.types import AuditEntry, AuditEntryConnection, AuditEntryEdge, Ctx, PageInfo, gid


async def audit_trail(info: Ctx, first: int = 50, after: str | None = None) -> AuditEntryConnection:
    ctx = info.context
    page = await reads.audit_trail(ctx.deps, ctx.require_principal().scope, first, after)
    edges = [
        AuditEntryEdge(
            cursor=reads.encode_audit_cursor(r),
            node=AuditEntry(
                id=gid(r.id),
                at=r.entry.at,
                token_id=gid(r.token_id) if r.token_id else None,
                action=r.entry.action,
                subject_id=gid(r.entry.subject_id) if r.entry.subject_id else None,
                depot_id=gid(r.entry.depot_id) if r.entry.depot_id else None,
                detail=cast(JSON, r.entry.detail),
            ),
        )
        for r in page.records
    ]
    return AuditEntryConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
    )
