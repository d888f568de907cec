"""The Subscription root: each field runs its resolver and maps the domain
results it yields."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

import strawberry

from domain.live import CardUpdate
from resolvers import live
from schema.access import RoleAllowed
from schema.capability import CapabilityStatusEvent
from schema.card import MicrogridCardUpdate
from schema.common import Ctx
from schema.microgrid import Microgrid

T = TypeVar("T")
U = TypeVar("U")
_PRESENTED: WeakKeyDictionary[CardUpdate, MicrogridCardUpdate] = WeakKeyDictionary()


def card_update(update: CardUpdate) -> MicrogridCardUpdate:
    """The schema's object for ``update``, one per update however many
    subscribers receive it: they are all handed the same payload, so its
    execution can be shared (live delivery does)."""
    presented = _PRESENTED.get(update)
    if presented is None:
        presented = _PRESENTED[update] = MicrogridCardUpdate.from_domain(update.reason, update.card)
    return presented


class _Mapped(Generic[T, U]):
    """A resolver's domain results, each mapped to the schema's object. An
    iterator rather than a generator: there is one per open subscription."""

    __slots__ = ("_map", "_results")

    def __init__(self, results: AsyncGenerator[T, None], map_result: Callable[[T], U]) -> None:
        self._results = results
        self._map = map_result

    def __aiter__(self) -> _Mapped[T, U]:
        return self

    async def __anext__(self) -> U:
        return self._map(await self._results.__anext__())

    async def aclose(self) -> None:
        await self._results.aclose()


class _CardMessages(_Mapped[CardUpdate, MicrogridCardUpdate]):
    """The snapshot, then each update as every subscriber of it receives it.

    The snapshot's object is emptied when the next message is asked for: it
    has been executed and sent by then, but graphql-core keeps the last payload
    referenced until the next one, which (updates being written straight to
    the socket) may never come. So an idle subscription keeps no card."""

    __slots__ = ("_snapshot", "_started")

    def __init__(self, updates: AsyncGenerator[CardUpdate, None]) -> None:
        super().__init__(updates, card_update)
        self._started = False
        self._snapshot: MicrogridCardUpdate | None = None

    async def __anext__(self) -> MicrogridCardUpdate:
        if not self._started:
            self._started = True
            first = await self._results.__anext__()
            self._snapshot = MicrogridCardUpdate.from_domain(first.reason, first.card)
            return self._snapshot
        if self._snapshot is not None:
            vars(self._snapshot).clear()
            self._snapshot = None
        return await super().__anext__()


def _microgrid_card(info: Ctx, depot_id: strawberry.ID) -> AsyncIterator[MicrogridCardUpdate]:
    return _CardMessages(live.microgrid_card(info.context, depot_id))


def _capability_status_events(
    info: Ctx, microgrid_id: strawberry.ID
) -> AsyncIterator[CapabilityStatusEvent]:
    return _Mapped(
        live.capability_status_events(info.context, microgrid_id), CapabilityStatusEvent.from_domain
    )


def _microgrid_topology(info: Ctx, microgrid_id: strawberry.ID) -> AsyncIterator[Microgrid]:
    return _Mapped(live.microgrid_topology(info.context, microgrid_id), Microgrid.from_domain)


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
