"""Who the request's token belongs to."""

from __future__ import annotations

from domain.access import Principal
from resolvers.context import RequestContext


def viewer(ctx: RequestContext) -> Principal:
    return ctx.require_principal()
