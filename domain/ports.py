"""What the use cases need from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from domain.access import Scope
from domain.model import Circuit, Depot, Device, Gateway, Microgrid, PowerSource


class Clock(Protocol):
    def now(self) -> datetime: ...


class Depots(Protocol):
    async def add(self, depot: Depot) -> None: ...
    async def get(self, depot_id: UUID) -> Depot | None: ...
    async def get_many(self, depot_ids: Collection[UUID]) -> dict[UUID, Depot]: ...

    async def lock(self, depot_id: UUID) -> Depot | None:
        """Read the depot and hold it against concurrent changes until commit."""
        ...

    async def page(
        self, scope: Scope, first: int, after: tuple[str, UUID] | None
    ) -> list[Depot]:
        """Depots ordered by (name, id), strictly after the ``after`` key."""
        ...

    async def count(self) -> int: ...

    async def lock_batch(self, after: UUID | None, limit: int) -> list[UUID]:
        """The next ``limit`` depot ids after ``after`` in id order, held until commit."""
        ...


class Circuits(Protocol):
    async def add(self, circuit: Circuit) -> None: ...
    async def update(self, circuit: Circuit) -> None: ...
    async def delete(self, circuit_id: UUID) -> None: ...
    async def get(self, circuit_id: UUID) -> Circuit | None: ...
    async def for_depot(self, depot_id: UUID) -> list[Circuit]: ...
    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]: ...
    async def top_level_for_depots(
        self, depot_ids: Collection[UUID]
    ) -> dict[UUID, list[Circuit]]: ...


class Microgrids(Protocol):
    async def get(self, microgrid_id: UUID) -> Microgrid | None: ...
    async def for_depot(self, depot_id: UUID) -> Microgrid | None: ...
    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, Microgrid]: ...

    async def add_if_absent(self, microgrids: list[Microgrid]) -> set[UUID]:
        """Insert each microgrid unless its depot already has an active one (the
        database decides, so concurrent callers cannot both win). Returns the ids
        of the microgrids that were inserted, with their grid connections."""
        ...

    async def save(self, microgrid: Microgrid) -> None:
        """Persist version, updated_at and exactly the given grid connections."""
        ...


class Equipment(Protocol):
    """Power sources, gateways and devices of a depot."""

    async def add_power_source(self, power_source: PowerSource) -> None: ...
    async def add_gateway(self, gateway: Gateway) -> None: ...
    async def add_device(self, device: Device) -> None: ...
    async def gateway(self, gateway_id: UUID) -> Gateway | None: ...
    async def device(self, device_id: UUID) -> Device | None: ...
    async def power_sources(self, depot_ids: Collection[UUID]) -> dict[UUID, list[PowerSource]]: ...
    async def gateways(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Gateway]]: ...
    async def devices(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Device]]: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls back."""

    depots: Depots
    circuits: Circuits
    microgrids: Microgrids
    equipment: Equipment

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool = True) -> UnitOfWork: ...


@dataclass(frozen=True)
class Dependencies:
    """Everything a use case reaches outside the model."""

    uow: UnitOfWorkFactory
    clock: Clock
    new_id: Callable[[], UUID]


