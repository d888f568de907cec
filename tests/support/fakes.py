"""In-memory implementations of the domain ports for fast use-case tests."""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from types import TracebackType
from typing import Self
from uuid import UUID, uuid4

from domain.access import EVERYWHERE, Scope
from domain.audit import AuditEntry
from domain.capability import CapabilityType, StatusEvent
from domain.changes import Change
from domain.model import Circuit, Depot, Device, Gateway, Microgrid, PowerSource, SensorAction
from domain.packet_records import PacketRecord
from domain.ports import Dependencies
from tests.support.clock import FakeClock


@dataclass
class Store:
    depots: dict[UUID, Depot] = field(default_factory=dict)
    circuits: dict[UUID, Circuit] = field(default_factory=dict)
    microgrids: dict[UUID, Microgrid] = field(default_factory=dict)
    power_sources: dict[UUID, PowerSource] = field(default_factory=dict)
    gateways: dict[UUID, Gateway] = field(default_factory=dict)
    devices: dict[UUID, Device] = field(default_factory=dict)
    events: dict[UUID, list[StatusEvent]] = field(default_factory=dict)
    latest: dict[UUID, dict[CapabilityType, StatusEvent]] = field(default_factory=dict)
    sensor_actions: dict[UUID, SensorAction] = field(default_factory=dict)
    packets: list[PacketRecord] = field(default_factory=list)
    commits: int = 0
    published: list[Change] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


class FakeDepots:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, depot: Depot) -> None:
        self.s.depots[depot.id] = depot

    async def get(self, depot_id: UUID) -> Depot | None:
        return self.s.depots.get(depot_id)

    async def get_many(self, depot_ids: Collection[UUID]) -> dict[UUID, Depot]:
        return {i: self.s.depots[i] for i in depot_ids if i in self.s.depots}

    async def lock(self, depot_id: UUID) -> Depot | None:
        return self.s.depots.get(depot_id)

    async def page(self, scope: Scope, first: int, after: tuple[str, UUID] | None) -> list[Depot]:
        rows = sorted(
            (d for d in self.s.depots.values() if scope.allows(d.id)),
            key=lambda d: (d.name, str(d.id)),
        )
        if after:
            rows = [d for d in rows if (d.name, str(d.id)) > (after[0], str(after[1]))]
        return rows[:first]

    async def count(self) -> int:
        return len(self.s.depots)

    async def lock_batch(self, after: UUID | None, limit: int) -> list[UUID]:
        ids = sorted(self.s.depots, key=str)
        return [i for i in ids if after is None or str(i) > str(after)][:limit]


class FakeCircuits:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, circuit: Circuit) -> None:
        self.s.circuits[circuit.id] = replace(circuit)

    async def update(self, circuit: Circuit) -> None:
        self.s.circuits[circuit.id] = replace(circuit)

    async def delete(self, circuit_id: UUID) -> None:
        del self.s.circuits[circuit_id]

    async def get(self, circuit_id: UUID, scope: Scope = EVERYWHERE) -> Circuit | None:
        found = self.s.circuits.get(circuit_id)
        return replace(found) if found and scope.allows(found.depot_id) else None

    async def for_depot(self, depot_id: UUID) -> list[Circuit]:
        return [replace(c) for c in self.s.circuits.values() if c.depot_id == depot_id]

    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]:
        return {d: await self.for_depot(d) for d in depot_ids}

    async def top_level_for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]:
        return {d: [c for c in await self.for_depot(d) if c.is_top_level] for d in depot_ids}


class FakeMicrogrids:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def get(self, microgrid_id: UUID, scope: Scope = EVERYWHERE) -> Microgrid | None:
        found = self.s.microgrids.get(microgrid_id)
        return copy.deepcopy(found) if found and scope.allows(found.depot_id) else None

    async def depot_of(self, microgrid_id: UUID, scope: Scope = EVERYWHERE) -> UUID | None:
        found = self.s.microgrids.get(microgrid_id)
        return found.depot_id if found and scope.allows(found.depot_id) else None

    async def for_depot(self, depot_id: UUID) -> Microgrid | None:
        found = next((m for m in self.s.microgrids.values() if m.depot_id == depot_id), None)
        return copy.deepcopy(found) if found else None

    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, Microgrid]:
        return {
            m.depot_id: copy.deepcopy(m)
            for m in self.s.microgrids.values()
            if m.depot_id in depot_ids
        }

    async def add_if_absent(self, microgrids: list[Microgrid]) -> set[UUID]:
        inserted = set()
        for m in microgrids:
            if not any(x.depot_id == m.depot_id for x in self.s.microgrids.values()):
                self.s.microgrids[m.id] = copy.deepcopy(m)
                inserted.add(m.id)
        return inserted

    async def save(self, microgrid: Microgrid) -> None:
        microgrid.revision += 1
        self.s.microgrids[microgrid.id] = copy.deepcopy(microgrid)

    async def bump_revision(self, microgrid_id: UUID) -> int:
        self.s.microgrids[microgrid_id].revision += 1
        return self.s.microgrids[microgrid_id].revision


class FakeEvents:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def reserve_sequence(self, microgrid_id: UUID) -> int:
        return len(self.s.events.get(microgrid_id, [])) + 1

    async def find(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        return next(
            (
                e
                for e in self.s.events.get(microgrid_id, [])
                if e.observation.idempotency_key == idempotency_key
            ),
            None,
        )

    async def append(self, event: StatusEvent) -> None:
        stream = self.s.events.setdefault(event.observation.microgrid_id, [])
        assert event.sequence == len(stream) + 1, "sequences are gap-free"
        stream.append(event)

    async def history(self, microgrid_ids, capability, first, before_sequence):  # type: ignore[no-untyped-def]
        found = {}
        for microgrid_id in microgrid_ids:
            events = [
                e
                for e in reversed(self.s.events.get(microgrid_id, []))
                if (capability is None or e.observation.capability == capability)
                and (before_sequence is None or e.sequence < before_sequence)
            ]
            if events:
                found[microgrid_id] = events[:first]
        return found

    async def after(self, microgrid_id: UUID, sequence: int, limit: int) -> list[StatusEvent]:
        return [e for e in self.s.events.get(microgrid_id, []) if e.sequence > sequence][:limit]

    async def last_sequence(self, microgrid_id: UUID) -> int:
        return len(self.s.events.get(microgrid_id, []))

    async def all_events(self) -> list[StatusEvent]:
        return [e for stream in self.s.events.values() for e in stream]


class FakeLatest:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def for_microgrids(self, microgrid_ids):  # type: ignore[no-untyped-def]
        return {m: dict(self.s.latest[m]) for m in microgrid_ids if m in self.s.latest}

    async def put(self, event: StatusEvent) -> None:
        o = event.observation
        self.s.latest.setdefault(o.microgrid_id, {})[o.capability] = event

    async def replace_all(self, latest: list[StatusEvent]) -> None:
        self.s.latest = {}
        for event in latest:
            await self.put(event)


class FakeEquipment:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add_power_source(self, power_source: PowerSource) -> None:
        self.s.power_sources[power_source.id] = power_source

    async def add_gateway(self, gateway: Gateway) -> None:
        self.s.gateways[gateway.id] = gateway

    async def add_device(self, device: Device) -> None:
        self.s.devices[device.id] = device

    async def gateway(self, gateway_id: UUID, scope: Scope = EVERYWHERE) -> Gateway | None:
        found = self.s.gateways.get(gateway_id)
        return found if found and scope.allows(found.depot_id) else None

    async def device(self, device_id: UUID, scope: Scope = EVERYWHERE) -> Device | None:
        found = self.s.devices.get(device_id)
        return found if found and scope.allows(found.depot_id) else None

    async def devices_by_id(
        self, device_ids: Collection[UUID], scope: Scope = EVERYWHERE
    ) -> dict[UUID, Device]:
        found = (self.s.devices.get(i) for i in device_ids)
        return {d.id: d for d in found if d and scope.allows(d.depot_id)}

    async def power_sources(self, depot_ids: Collection[UUID]) -> dict[UUID, list[PowerSource]]:
        return _group([replace(p) for p in self.s.power_sources.values()], depot_ids)

    async def update_power_source(self, power_source: PowerSource) -> None:
        self.s.power_sources[power_source.id] = replace(power_source)

    async def gateways(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Gateway]]:
        return _group(self.s.gateways.values(), depot_ids)

    async def devices(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Device]]:
        return _group(self.s.devices.values(), depot_ids)


def _group(items, depot_ids):  # type: ignore[no-untyped-def]
    grouped: dict[UUID, list] = {}  # type: ignore[type-arg]
    for item in items:
        if item.depot_id in depot_ids:
            grouped.setdefault(item.depot_id, []).append(item)
    return grouped


class FakeSensorActions:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, action: SensorAction) -> None:
        assert not any(
            a.device_id == action.device_id and a.type == action.type
            for a in self.s.sensor_actions.values()
        ), "one action per type per device"
        self.s.sensor_actions[action.id] = replace(action)

    async def update(self, action: SensorAction) -> None:
        self.s.sensor_actions[action.id] = replace(action)

    async def get(self, action_id: UUID, scope: Scope = EVERYWHERE) -> SensorAction | None:
        found = self.s.sensor_actions.get(action_id)
        device = self.s.devices.get(found.device_id) if found else None
        visible = found and (scope.depot_ids is None or (device and scope.allows(device.depot_id)))
        return replace(found) if found and visible else None

    async def for_devices(self, device_ids):  # type: ignore[no-untyped-def]
        grouped: dict[UUID, list[SensorAction]] = {}
        for a in self.s.sensor_actions.values():
            if a.device_id in device_ids:
                grouped.setdefault(a.device_id, []).append(replace(a))
        return grouped

    async def bindings_for_microgrids(self, microgrid_ids):  # type: ignore[no-untyped-def]
        grouped: dict[UUID, list[SensorAction]] = {}
        for a in self.s.sensor_actions.values():
            if a.is_binding and a.microgrid_id in microgrid_ids:
                grouped.setdefault(a.microgrid_id, []).append(replace(a))
        return grouped


class FakePackets:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, record: PacketRecord) -> None:
        self.s.packets.append(record)

    async def page(self, device_id, first, before):  # type: ignore[no-untyped-def]
        rows = sorted(
            (p for p in self.s.packets if p.device_id == device_id),
            key=lambda p: (p.received_at, str(p.id)),
            reverse=True,
        )
        if before:
            rows = [p for p in rows if (p.received_at, str(p.id)) < (before[0], str(before[1]))]
        return rows[:first]


class FakeUnitOfWork:
    """Works on a copy of the store; commit publishes the copy. No commit, no change."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._store)
        self.depots = FakeDepots(self._work)
        self.circuits = FakeCircuits(self._work)
        self.microgrids = FakeMicrogrids(self._work)
        self.equipment = FakeEquipment(self._work)
        self.events = FakeEvents(self._work)
        self.latest = FakeLatest(self._work)
        self.sensor_actions = FakeSensorActions(self._work)
        self.packets = FakePackets(self._work)
        self._changes: list[Change] = []
        self._audit: list[AuditEntry] = []
        return self

    def notify(self, change: Change) -> None:
        self._changes.append(change)

    def audit(self, entry: AuditEntry) -> None:
        self._audit.append(entry)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        for f in fields(Store):
            if f.name not in ("commits", "published", "audit"):
                setattr(self._store, f.name, getattr(self._work, f.name))
        self._store.commits += 1
        self._store.published.extend(self._changes)
        self._store.audit.extend(self._audit)
        self._work = copy.deepcopy(self._store)


def fake_dependencies(
    store: Store | None = None, clock: FakeClock | None = None, stale_after_seconds: int = 300
) -> Dependencies:
    store = store if store is not None else Store()

    def factory(*, write: bool = True) -> FakeUnitOfWork:
        return FakeUnitOfWork(store)

    return Dependencies(
        uow=factory,
        clock=clock or FakeClock(),
        new_id=uuid4,
        stale_after_seconds=stale_after_seconds,
    )
