"""The Subscription root: each field runs its resolver and maps the domain
results it yields."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from weakref import WeakKeyDictionary

import strawberry

from domain.live import CardUpdate
from resolvers import live
from schema.access import RoleAllowed
from schema.types import CapabilityStatusEvent, Ctx, Microgrid, MicrogridCardUpdate

_PRESENTED: WeakKeyDictionary[CardUpdate, MicrogridCardUpdate] = WeakKeyDictionary()


def card_update(update: CardUpdate) -> MicrogridCardUpdate:
    """The schema's object for ``update``, one per update however many
    subscribers receive it: they are all handed the same payload, so its
    execution can be shared (live delivery does)."""
    presented = _PRESENTED.get(update)
    if presented is None:
        presented = _PRESENTED[update] = MicrogridCardUpdate.of(update.reason, update.card)
    return presented


async def _microgrid_card(
    info: Ctx, depot_id: strawberry.ID
) -> AsyncGenerator[MicrogridCardUpdate, None]:
    updates = live.microgrid_card(info.context, depot_id)
    async with aclosing(updates):
        first = await anext(updates)
        snapshot = MicrogridCardUpdate.of(first.reason, first.card)
        del first
        yield snapshot
        # Executed and sent by now; graphql-core keeps the last payload referenced
        # until the next one, which (updates being written straight to the socket)
        # may never come: an idle subscription keeps no card.
        vars(snapshot).clear()
        del snapshot
        async for update in updates:
            yield card_update(update)


async def _capability_status_events(
    info: Ctx, microgrid_id: strawberry.ID
) -> AsyncGenerator[CapabilityStatusEvent, None]:
    async with aclosing(live.capability_status_events(info.context, microgrid_id)) as events:
        async for event in events:
            yield CapabilityStatusEvent.of(event)


async def _microgrid_topology(
    info: Ctx, microgrid_id: strawberry.ID
) -> AsyncGenerator[Microgrid, None]:
    async with aclosing(live.microgrid_topology(info.context, microgrid_id)) as microgrids:
        async for microgrid in microgrids:
            yield Microgrid.of(microgrid)


@strawberry.type
class Subscription:
    microgrid_card: MicrogridCardUpdate = strawberry.subscription(  # type: ignore[assignment]
        resolver=_microgrid_card,
        permission_classes=[RoleAllowed],
        description=(
            "First message: the current card (reason SNAPSHOT); then one per change, "
            "freshness transitions included."
        ),
    )
    capability_status_events: CapabilityStatusEvent = strawberry.subscription(  # type: ignore[assignment]
        resolver=_capability_status_events, permission_classes=[RoleAllowed]
    )
    microgrid_topology: Microgrid = strawberry.subscription(  # type: ignore[assignment]
        resolver=_microgrid_topology,
        permission_classes=[RoleAllowed],
        description="First message: the current microgrid; then one per topology change.",
    )
