"""What every resolver gets: who is asking, the use-case dependencies, and
per-request data loaders (one query per kind of data, however many parents)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from strawberry.dataloader import DataLoader

from domain import flag_settings, reads
from domain.access import Principal
from domain.capability import CapabilityType, StatusEvent
from domain.circuit_tree import children_by_parent
from domain.feature_flags import FlagEvaluation
from domain.live import CardUpdates, Feeds
from domain.model import Circuit, Depot, Device, Microgrid, SensorAction
from domain.ports import Dependencies
from domain.reads import DepotEquipment

HistoryKey = tuple[UUID, CapabilityType | None, int, str | None]
"""(microgrid, capability filter, page size, cursor) of one capabilityHistory field."""


class Loaders:
    def __init__(self, deps: Dependencies, principal: Principal) -> None:
        async def load_depots(ids: list[UUID]) -> list[Depot | None]:
            found = await reads.depots(deps, principal.scope, ids)
            return [found.get(i) for i in ids]

        async def load_circuits(ids: list[UUID]) -> list[list[Circuit]]:
            found = await reads.circuits_by_depot(deps, ids)
            return [found.get(i, []) for i in ids]

        async def load_microgrids(ids: list[UUID]) -> list[Microgrid | None]:
            found = await reads.microgrids_by_depot(deps, ids)
            return [found.get(i) for i in ids]

        async def load_equipment(ids: list[UUID]) -> list[DepotEquipment]:
            found = await reads.equipment_by_depot(deps, ids)
            return [found] * len(ids)

        async def load_latest(ids: list[UUID]) -> list[dict[CapabilityType, StatusEvent]]:
            found = await reads.latest_statuses(deps, ids)
            return [found.get(i, {}) for i in ids]

        async def load_actions(ids: list[UUID]) -> list[list[SensorAction]]:
            found = await reads.sensor_actions_by_device(deps, ids)
            return [found.get(i, []) for i in ids]

        async def load_bindings(ids: list[UUID]) -> list[list[SensorAction]]:
            found = await reads.bindings_by_microgrid(deps, ids)
            return [found.get(i, []) for i in ids]

        async def load_histories(keys: list[HistoryKey]) -> list[reads.HistoryPage]:
            """One query per distinct (capability, first, after), whatever the parents."""
            pages: dict[HistoryKey, reads.HistoryPage] = {}
            for capability, first, after in dict.fromkeys(k[1:] for k in keys):
                ids = [k[0] for k in keys if k[1:] == (capability, first, after)]
                found = await reads.capability_histories(deps, ids, capability, first, after)
                pages.update({(i, capability, first, after): found[i] for i in ids})
            return [pages[k] for k in keys]

        async def load_devices(ids: list[UUID]) -> list[Device | None]:
            found = await reads.devices(deps, principal.scope, ids)
            return [found.get(i) for i in ids]

        async def load_feature_flags(ids: list[UUID]) -> list[list[FlagEvaluation]]:
            found = await flag_settings.flags_of_depots(deps, ids)
            return [found[i] for i in ids]

        self.feature_flags: DataLoader[UUID, list[FlagEvaluation]] = DataLoader(load_feature_flags)
        self.history: DataLoader[HistoryKey, reads.HistoryPage] = DataLoader(load_histories)
        self.sensor_actions: DataLoader[UUID, list[SensorAction]] = DataLoader(load_actions)
        self.bindings: DataLoader[UUID, list[SensorAction]] = DataLoader(load_bindings)
        self.device: DataLoader[UUID, Device | None] = DataLoader(load_devices)
        self.latest: DataLoader[UUID, dict[CapabilityType, StatusEvent]] = DataLoader(load_latest)
        self.depot: DataLoader[UUID, Depot | None] = DataLoader(load_depots)
        self.circuits: DataLoader[UUID, list[Circuit]] = DataLoader(load_circuits)
        self.microgrid: DataLoader[UUID, Microgrid | None] = DataLoader(load_microgrids)
        self.equipment: DataLoader[UUID, DepotEquipment] = DataLoader(load_equipment)
        self._children: dict[UUID, dict[UUID | None, list[Circuit]]] = {}

    async def children(self, depot_id: UUID, circuit_id: UUID) -> list[Circuit]:
        """A circuit's children, ordered, from one index per depot and request
        (scanning the depot's circuits per circuit made deep trees quadratic)."""
        index = self._children.get(depot_id)
        if index is None:
            index = children_by_parent(await self.circuits.load(depot_id))
            self._children[depot_id] = index
        return index.get(circuit_id, [])


@dataclass
class RequestContext:
    deps: Dependencies
    hub: Feeds
    """Change notices, for subscriptions that follow them one by one."""
    card_updates: CardUpdates
    """The process's card followers, shared by every card subscriber."""
    principal: Principal | None = None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, repr=False)
    packets_taken: int = 0
    """Sensor packets this request's fields have taken so far (aliases
    included): a request holds at most ``MAX_PACKETS`` however they are split."""

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.deps, self.require_principal())
        return self._loaders

    def fresh_reads(self) -> None:
        """Forget cached loads: a long-lived (WebSocket) context re-reads per message."""
        self._loaders = None
        self.packets_taken = 0

    def require_principal(self) -> Principal:
        if self.principal is None:
            raise PermissionError("not authenticated")
        return self.principal
