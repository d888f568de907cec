"""Subscriptions: a snapshot first, then one message per change, read afresh."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from domain import live
from domain.card import card_for_depot, card_for_microgrid
from domain.changes import ChangeReason
from domain.model import Microgrid as DomainMicrogrid
from domain.problems import NotFound
from domain.reads import microgrid as read_microgrid
from resolvers.context import RequestContext
from resolvers.errors import NotFoundError, SubscriberTooSlow
from resolvers.ids import parse_id
from schema.types import CapabilityStatusEvent, Ctx, Microgrid, MicrogridCardUpdate


async def microgrid_card(
    info: Ctx, depot_id: strawberry.ID
) -> AsyncGenerator[MicrogridCardUpdate, None]:
    ctx = info.context
    found = await card_for_depot(ctx.deps, ctx.require_principal().scope, parse_id(depot_id))
    if isinstance(found, NotFound):
        raise NotFoundError(found.message)
    broadcasts = ctx.card_broadcasts or live.CardBroadcasts(
        ctx.deps, ctx.hub, MicrogridCardUpdate.of
    )
    async with broadcasts.listen(found.microgrid.id) as listener:
        snapshot = await card_for_microgrid(ctx.deps, found.microgrid.id) or found
        yield MicrogridCardUpdate.of(ChangeReason.SNAPSHOT, snapshot)
        try:
            async for update in listener.after(snapshot):
                ctx.fresh_reads()
                yield update
        except live.FellBehind as error:
            raise SubscriberTooSlow() from error


async def capability_status_events(
    info: Ctx, microgrid_id: strawberry.ID
) -> AsyncGenerator[CapabilityStatusEvent, None]:
    ctx = info.context
    found = await _visible_microgrid(ctx, microgrid_id)
    feeds: live.Feeds = ctx.hub
    async with feeds.subscribe(found.id) as feed:
        async with ctx.deps.uow(write=False) as uow:
            start = await uow.events.last_sequence(found.id)
        async for event in live.follow_events(ctx.deps, feed, found.id, start):
            yield CapabilityStatusEvent.of(event)


async def microgrid_topology(
    info: Ctx, microgrid_id: strawberry.ID
) -> AsyncGenerator[Microgrid, None]:
    ctx = info.context
    found = await _visible_microgrid(ctx, microgrid_id)
    feeds: live.Feeds = ctx.hub
    async with feeds.subscribe(found.id) as feed:
        current = await _visible_microgrid(ctx, microgrid_id)  # re-read once subscribed
        yield Microgrid.of(current)
        async for fresh in live.follow_topology(ctx.deps, feed, current):
            ctx.fresh_reads()
            yield Microgrid.of(fresh)


async def _visible_microgrid(ctx: RequestContext, microgrid_id: strawberry.ID) -> DomainMicrogrid:
    found = await read_microgrid(ctx.deps, ctx.require_principal().scope, parse_id(microgrid_id))
    if isinstance(found, NotFound):
        raise NotFoundError(found.message)
    return found
