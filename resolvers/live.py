"""Subscriptions: a snapshot first, then one message per change, read afresh.
Each yields domain results; the schema maps them."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

from domain import live
from domain.capability import StatusEvent
from domain.card import depot_not_visible, no_microgrid
from domain.live import CardUpdate
from domain.model import Microgrid
from domain.problems import NotFound
from domain.reads import microgrid as read_microgrid
from resolvers.context import RequestContext
from resolvers.errors import NotFoundError
from resolvers.ids import parse_id


async def microgrid_card(ctx: RequestContext, depot_id: str) -> AsyncGenerator[CardUpdate, None]:
    """The card of the depot's microgrid (reason SNAPSHOT), then each update the
    process's follower of that card shares with every local subscriber. The
    snapshot is the follower's card too (``domain.live.CardListener.snapshot``):
    a burst of subscribers to one card costs one read."""
    microgrid_id = await _card_microgrid(ctx, depot_id)
    async with ctx.card_updates.listen(microgrid_id) as listener:
        snapshot = await listener.snapshot()
        if snapshot is None:
            raise NotFoundError(f"Microgrid {microgrid_id} no longer exists.")
        revision, generated_at = snapshot.card.revision, snapshot.card.generated_at
        yield snapshot
        del snapshot  # one per open subscription: keep only what the comparison needs
        # A subscriber that falls behind gets the domain's FellBehind, which the
        # schema's error shaping answers as SUBSCRIBER_TOO_SLOW.
        async for update in listener.after(revision, generated_at):
            ctx.fresh_reads()
            yield update


async def _card_microgrid(ctx: RequestContext, depot_id: str) -> UUID:
    depot = parse_id(depot_id)
    hidden = depot_not_visible(ctx.require_principal().scope, depot)
    if hidden is not None or depot is None:
        raise NotFoundError((hidden or NotFound("Depot", None)).message)
    microgrid_id = await ctx.card_updates.microgrid_of_depot(depot)
    if microgrid_id is None:
        raise NotFoundError(no_microgrid(depot).message)
    return microgrid_id


async def capability_status_events(
    ctx: RequestContext, microgrid_id: str
) -> AsyncGenerator[StatusEvent, None]:
    found = await _visible_microgrid(ctx, microgrid_id)
    async with ctx.hub.subscribe(found.id) as feed:
        async with ctx.deps.uow(write=False) as uow:
            start = await uow.events.last_sequence(found.id)
        async for event in live.follow_events(ctx.deps, feed, found.id, start):
            yield event


async def microgrid_topology(
    ctx: RequestContext, microgrid_id: str
) -> AsyncGenerator[Microgrid, None]:
    found = await _visible_microgrid(ctx, microgrid_id)
    async with ctx.hub.subscribe(found.id) as feed:
        current = await _visible_microgrid(ctx, microgrid_id)  # re-read once subscribed
        yield current
        async for fresh in live.follow_topology(ctx.deps, feed, current):
            ctx.fresh_reads()
            yield fresh


async def _visible_microgrid(ctx: RequestContext, microgrid_id: str) -> Microgrid:
    found = await read_microgrid(ctx.deps, ctx.require_principal().scope, parse_id(microgrid_id))
    if isinstance(found, NotFound):
        raise NotFoundError(found.message)
    return found
