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


def _microgrid_card(info: Ctx, depot_id: strawberry.ID) -> AsyncIterator[MicrogridCardUpdate]:
    """The snapshot, then each update, each as every subscriber of it receives
    it: the snapshot too is one object per card and moment, shared by the
    subscribers that arrive together (live delivery's follower makes it), so an
    idle subscription keeps no card of its own."""
    return _Mapped(live.microgrid_card(info.context, depot_id), card_update)


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
