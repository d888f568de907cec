"""The Microgrid card query: what operators watch, read in one short transaction."""

from __future__ import annotations

from domain.card import Card, card_for_depot
from domain.problems import NotFound
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def microgrid_card(ctx: RequestContext, depot_id: str) -> Card | NotFound:
    return await card_for_depot(ctx.deps, ctx.require_principal().scope, parse_id(depot_id))
