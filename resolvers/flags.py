"""Feature flags: their values for a depot or globally, and admins' settings."""

from __future__ import annotations

from uuid import UUID

from domain import flag_settings
from domain.feature_flags import FlagEvaluation
from domain.problems import NotFound, ValidationFailed
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def feature_flags(ctx: RequestContext, depot_id: str | None) -> list[FlagEvaluation]:
    """Global values without ``depot_id``; a depot missing or out of scope has none."""
    if depot_id is None:
        return await flag_settings.global_flags(ctx.deps)
    scope = ctx.require_principal().scope
    return await flag_settings.depot_flags(ctx.deps, scope, parse_id(depot_id))


async def depot_feature_flags(ctx: RequestContext, depot_id: UUID) -> list[FlagEvaluation]:
    """For a depot already resolved (so visible): batched across a page of depots."""
    return await ctx.loaders.feature_flags.load(depot_id)


async def set_feature_flag(
    ctx: RequestContext, key: str, enabled: bool | None, depot_id: str | None
) -> FlagEvaluation | NotFound | ValidationFailed:
    scope = ctx.require_principal().scope
    if depot_id is None:
        return await flag_settings.set_global_flag(ctx.deps, scope, key, enabled)
    return await flag_settings.set_depot_flag(ctx.deps, scope, key, enabled, parse_id(depot_id))
