"""The load page's chart for a depot and a time range."""

from __future__ import annotations

from datetime import datetime

from domain import load_chart as use_case
from domain.problems import NotFound, ValidationFailed
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def load_chart(
    ctx: RequestContext, depot_id: str, start: datetime, end: datetime, max_points: int
) -> use_case.LoadChart | NotFound | ValidationFailed:
    scope = ctx.require_principal().scope
    return await use_case.load_chart(ctx.deps, scope, parse_id(depot_id), start, end, max_points)
