"""Subscriptions: a snapshot first, then one message per change, read afresh."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

import strawberry

from domain import live
from domain.card import Card, card_for_depot, card_for_microgrid
from domain.changes import ChangeReason
from domain.model import Microgrid as DomainMicrogrid
from domain.problems import NotFound
from domain.reads import microgrid as read_microgrid
from resolvers.context import RequestContext
from resolvers.errors import NotFoundError, SubscriberTooSlow
from resolvers.ids import parse_id
from schema.capability import CapabilityStatusEvent
from schema.card import MicrogridCardUpdate
from schema.card_frames import frame_sink
from schema.common import Ctx
from schema.microgrid import Microgrid
from schema.shared_events import share


def shared_update(reason: ChangeReason, card: Card) -> MicrogridCardUpdate:
    """What the card broadcaster hands every local subscriber of one change."""
    return share(MicrogridCardUpdate.from_domain(reason, card))


async def microgrid_card(
    info: Ctx, depot_id: strawberry.ID
) -> AsyncGenerator[MicrogridCardUpdate, None]:
    ctx = info.context
    microgrid_id = await _card_microgrid(ctx, depot_id)
    broadcasts = ctx.card_broadcasts or live.CardBroadcasts(ctx.deps, ctx.hub, shared_update)
    async with broadcasts.listen(microgrid_id) as listener:
        snapshot = await card_for_microgrid(ctx.deps, microgrid_id)
        if snapshot is None:
            raise NotFoundError(f"Microgrid {microgrid_id} no longer exists.")
        revision, generated_at = snapshot.revision, snapshot.generated_at
        first = MicrogridCardUpdate.from_domain(ChangeReason.SNAPSHOT, snapshot)
        yield first
        # Executed and sent by now; graphql-core keeps the last payload referenced
        # until the next one, which (updates being written directly) never comes.
        vars(first).clear()
        del snapshot  # one per open subscription: keep only what the comparison needs
        listener.direct = frame_sink(ctx.request)
        try:
            async for update in listener.after(revision, generated_at):
                ctx.fresh_reads()
                yield update
        except live.FellBehind as error:
            raise SubscriberTooSlow() from error


async def _card_microgrid(ctx: RequestContext, depot_id: strawberry.ID) -> UUID:
    found = await card_for_depot(ctx.deps, ctx.require_principal().scope, parse_id(depot_id))
    if isinstance(found, NotFound):
        raise NotFoundError(found.message)
    return found.microgrid.id


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
            yield CapabilityStatusEvent.from_domain(event)


async def microgrid_topology(
    info: Ctx, microgrid_id: strawberry.ID
) -> AsyncGenerator[Microgrid, None]:
    ctx = info.context
    found = await _visible_microgrid(ctx, microgrid_id)
    feeds: live.Feeds = ctx.hub
    async with feeds.subscribe(found.id) as feed:
        current = await _visible_microgrid(ctx, microgrid_id)  # re-read once subscribed
        yield Microgrid.from_domain(current)
        async for fresh in live.follow_topology(ctx.deps, feed, current):
            ctx.fresh_reads()
            yield Microgrid.from_domain(fresh)


async def _visible_microgrid(ctx: RequestContext, microgrid_id: strawberry.ID) -> DomainMicrogrid:
    found = await read_microgrid(ctx.deps, ctx.require_principal().scope, parse_id(microgrid_id))
    if isinstance(found, NotFound):
        raise NotFoundError(found.message)
    return found
