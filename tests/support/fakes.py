"""In-memory implementations of the domain ports for fast use-case tests.

They answer like the databases: the repository and event-store contract suite
(tests/persistence) runs on them as a third store, "memory", beside SQLite and
PostgreSQL. So a repository hands out copies (changing one changes nothing
until it is written back), keeps what a table keeps (a microgrid's revision
counts up from the stored one, sequences are reserved per stream) and refuses
what a unique constraint refuses, with :class:`ConstraintViolation`.

A unit of work works on a copy of the store; commit writes the copy back
whole. Two units of work that overlap therefore do not merge their writes as
a database would: the fakes are for one use case at a time."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Protocol, Self, TypeVar
from uuid import UUID, uuid4

from domain.access import EVERYWHERE, Scope
from domain.audit import AuditEntry, AuditRecord
from domain.capability import CapabilityType, StatusEvent
from domain.changes import Change, Publisher
from domain.chart_intervals import StatusRun, capacity_runs, status_runs
from domain.feature_flags import KNOWN_FLAGS, FlagEvaluation, FlagSetting, evaluate
from domain.load_chart import first_bucket
from domain.model import Circuit, Depot, Device, Gateway, Microgrid, PowerSource, SensorAction
from domain.packet_records import PacketRecord
from domain.ports import Dependencies, UnitOfWorkFactory
from domain.readings import Bucket, CapacityReport, CapacityRun, Reading, ReadingKind
from tests.support.clock import FakeClock

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ConstraintViolation(Exception):
    """What a database refuses with an integrity error (a unique constraint)."""


@dataclass
class Store:
    """The tables. Tests may read and change them between units of work."""

    depots: dict[UUID, Depot] = field(default_factory=dict)
    circuits: dict[UUID, Circuit] = field(default_factory=dict)
    microgrids: dict[UUID, Microgrid] = field(default_factory=dict)
    power_sources: dict[UUID, PowerSource] = field(default_factory=dict)
    gateways: dict[UUID, Gateway] = field(default_factory=dict)
    devices: dict[UUID, Device] = field(default_factory=dict)
    events: dict[UUID, list[StatusEvent]] = field(default_factory=dict)
    last_sequences: dict[UUID, int] = field(default_factory=dict)
    """The last sequence reserved per stream (the ``event_streams`` table)."""
    latest: dict[UUID, dict[CapabilityType, StatusEvent]] = field(default_factory=dict)
    sensor_actions: dict[UUID, SensorAction] = field(default_factory=dict)
    packets: list[PacketRecord] = field(default_factory=list)
    audit_log: list[AuditRecord] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    capacity_reports: list[CapacityReport] = field(default_factory=list)
    flag_settings: dict[tuple[str, UUID | None], FlagSetting] = field(default_factory=dict)
    """Keyed as the two partial unique indexes key the table: one per (key, depot)."""
    commits: int = 0
    published: list[Change] = field(default_factory=list)

    @property
    def audit(self) -> list[AuditEntry]:
        """The audit entries committed so far, oldest first."""
        return [record.entry for record in self.audit_log]


_NOT_WRITTEN_BY_COMMIT = {"commits", "published"}
"""What a commit counts and announces rather than writes."""


class FakeDepots:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, depot: Depot) -> None:
        _insert(self.s.depots, depot)

    async def get(self, depot_id: UUID) -> Depot | None:
        found = self.s.depots.get(depot_id)
        return replace(found) if found else None

    async def get_many(self, depot_ids: Collection[UUID]) -> dict[UUID, Depot]:
        return {i: replace(self.s.depots[i]) for i in depot_ids if i in self.s.depots}

    async def lock(self, depot_id: UUID) -> Depot | None:
        return await self.get(depot_id)

    async def page(self, scope: Scope, first: int, after: tuple[str, UUID] | None) -> list[Depot]:
        rows = sorted(
            (d for d in self.s.depots.values() if scope.allows(d.id)), key=lambda d: (d.name, d.id)
        )
        if after:
            rows = [d for d in rows if (d.name, d.id) > after]
        return [replace(d) for d in rows[:first]]

    async def count(self) -> int:
        return len(self.s.depots)

    async def lock_batch(self, after: UUID | None, limit: int) -> list[UUID]:
        return [i for i in sorted(self.s.depots) if after is None or i > after][:limit]


class FakeCircuits:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, circuit: Circuit) -> None:
        _insert(self.s.circuits, circuit)

    async def update(self, circuit: Circuit) -> None:
        stored = self.s.circuits.get(circuit.id)
        if stored is not None:
            self.s.circuits[circuit.id] = replace(
                circuit, depot_id=stored.depot_id, created_at=stored.created_at
            )

    async def delete(self, circuit_id: UUID) -> None:
        self.s.circuits.pop(circuit_id, None)

    async def get(self, circuit_id: UUID, scope: Scope = EVERYWHERE) -> Circuit | None:
        found = self.s.circuits.get(circuit_id)
        return replace(found) if found and scope.allows(found.depot_id) else None

    async def for_depot(self, depot_id: UUID) -> list[Circuit]:
        return [replace(c) for c in self.s.circuits.values() if c.depot_id == depot_id]

    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]:
        return _by_depot(self.s.circuits.values(), depot_ids)

    async def top_level_for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]:
        top_level = (c for c in self.s.circuits.values() if c.is_top_level)
        return _by_depot(top_level, depot_ids)


def _stored_microgrid(microgrid: Microgrid) -> Microgrid:
    """A copy as the tables hold it: grid connections in position order."""
    stored = copy.deepcopy(microgrid)
    stored.grid_connections.sort(key=lambda n: n.position)
    return stored


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
        """A new row starts at revision 1, whatever the object says (the column's default)."""
        inserted = set()
        for m in microgrids:
            if not any(x.depot_id == m.depot_id for x in self.s.microgrids.values()):
                _insert(self.s.microgrids, replace(_stored_microgrid(m), revision=1))
                inserted.add(m.id)
        return inserted

    async def save(self, microgrid: Microgrid) -> None:
        """Writes version, updated_at and the grid connections; the revision counts
        up from the stored one, not from the caller's copy."""
        stored = self.s.microgrids[microgrid.id]
        microgrid.revision = stored.revision + 1
        self.s.microgrids[microgrid.id] = replace(
            _stored_microgrid(microgrid), depot_id=stored.depot_id, created_at=stored.created_at
        )

    async def bump_revision(self, microgrid_id: UUID) -> int:
        self.s.microgrids[microgrid_id].revision += 1
        return self.s.microgrids[microgrid_id].revision


class FakeEvents:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def reserve_sequence(self, microgrid_id: UUID) -> int:
        sequence = self.s.last_sequences.get(microgrid_id, 0) + 1
        self.s.last_sequences[microgrid_id] = sequence
        return sequence

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
        if any(e.sequence == event.sequence for e in stream):
            raise ConstraintViolation(f"sequence {event.sequence} is taken in its stream")
        if await self.find(event.observation.microgrid_id, event.observation.idempotency_key):
            raise ConstraintViolation(f"{event.observation.idempotency_key} is taken in its stream")
        stream.append(event)
        stream.sort(key=lambda e: e.sequence)

    async def history(
        self,
        microgrid_ids: Collection[UUID],
        capability: CapabilityType | None,
        first: int,
        before_sequence: int | None,
    ) -> dict[UUID, list[StatusEvent]]:
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
        return self.s.last_sequences.get(microgrid_id, 0)

    async def all_events(self) -> list[StatusEvent]:
        """Stream by stream (in id order), each in sequence order."""
        return [e for stream_id in sorted(self.s.events) for e in self.s.events[stream_id]]

    async def status_changes(
        self,
        microgrid_id: UUID,
        start: datetime,
        end: datetime,
        stale_after: Mapping[CapabilityType, int],
    ) -> list[StatusRun]:
        stream = self.s.events.get(microgrid_id, [])
        chain: list[StatusEvent] = []
        for capability in CapabilityType:
            mine = sorted(
                (e for e in stream if e.observation.capability == capability),
                key=lambda e: e.order_key,
            )
            before = [e for e in mine if e.observation.observed_at < start]
            chain += before[-1:] + [e for e in mine if start <= e.observation.observed_at < end]
        return status_runs(chain, stale_after)


class FakeLatest:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, dict[CapabilityType, StatusEvent]]:
        return {m: dict(self.s.latest[m]) for m in microgrid_ids if self.s.latest.get(m)}

    async def put(self, event: StatusEvent) -> None:
        """The projection holds the latest events; each was applied to it."""
        o = event.observation
        self.s.latest.setdefault(o.microgrid_id, {})[o.capability] = replace(
            event, applied_to_latest=True
        )

    async def replace_all(self, latest: list[StatusEvent]) -> None:
        self.s.latest = {}
        for event in latest:
            await self.put(event)


class FakeEquipment:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add_power_source(self, power_source: PowerSource) -> None:
        _insert(self.s.power_sources, power_source)

    async def add_gateway(self, gateway: Gateway) -> None:
        _insert(self.s.gateways, gateway)

    async def add_device(self, device: Device) -> None:
        _insert(self.s.devices, device)

    async def gateway(self, gateway_id: UUID, scope: Scope = EVERYWHERE) -> Gateway | None:
        found = self.s.gateways.get(gateway_id)
        return copy.deepcopy(found) if found and scope.allows(found.depot_id) else None

    async def device(self, device_id: UUID, scope: Scope = EVERYWHERE) -> Device | None:
        found = self.s.devices.get(device_id)
        return replace(found) if found and scope.allows(found.depot_id) else None

    async def devices_by_id(
        self, device_ids: Collection[UUID], scope: Scope = EVERYWHERE
    ) -> dict[UUID, Device]:
        found = (self.s.devices.get(i) for i in device_ids)
        return {d.id: replace(d) for d in found if d and scope.allows(d.depot_id)}

    async def power_sources(self, depot_ids: Collection[UUID]) -> dict[UUID, list[PowerSource]]:
        return _by_depot(self.s.power_sources.values(), depot_ids)

    async def update_power_source(self, power_source: PowerSource) -> None:
        stored = self.s.power_sources.get(power_source.id)
        if stored is not None:
            self.s.power_sources[power_source.id] = replace(
                power_source, depot_id=stored.depot_id, created_at=stored.created_at
            )

    async def gateways(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Gateway]]:
        return _by_depot(self.s.gateways.values(), depot_ids)

    async def devices(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Device]]:
        return _by_depot(self.s.devices.values(), depot_ids)


class FakeSensorActions:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, action: SensorAction) -> None:
        if any(
            a.device_id == action.device_id and a.type == action.type
            for a in self.s.sensor_actions.values()
        ):
            raise ConstraintViolation("one action per type per device")
        _insert(self.s.sensor_actions, action)

    async def update(self, action: SensorAction) -> None:
        stored = self.s.sensor_actions.get(action.id)
        if stored is not None:
            self.s.sensor_actions[action.id] = replace(
                copy.deepcopy(action), created_at=stored.created_at
            )

    async def get(self, action_id: UUID, scope: Scope = EVERYWHERE) -> SensorAction | None:
        """The action, if its device is in ``scope`` (as if missing otherwise)."""
        found = self.s.sensor_actions.get(action_id)
        if found is None:
            return None
        device = self.s.devices.get(found.device_id)
        visible = scope.depot_ids is None or (device is not None and scope.allows(device.depot_id))
        return copy.deepcopy(found) if visible else None

    async def for_devices(self, device_ids: Collection[UUID]) -> dict[UUID, list[SensorAction]]:
        return _grouped(
            (a for a in self.s.sensor_actions.values() if a.device_id in device_ids),
            lambda a: a.device_id,
        )

    async def bindings_for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, list[SensorAction]]:
        bindings = (
            a
            for a in self.s.sensor_actions.values()
            if a.is_binding and a.microgrid_id is not None and a.microgrid_id in microgrid_ids
        )
        return _grouped(bindings, lambda a: a.microgrid_id)


class FakePackets:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, record: PacketRecord) -> None:
        if any(p.id == record.id for p in self.s.packets):
            raise ConstraintViolation(f"packet {record.id} exists")
        self.s.packets.append(copy.deepcopy(record))

    async def page(
        self, device_id: UUID, first: int, before: tuple[datetime, UUID] | None
    ) -> list[PacketRecord]:
        return _newest_first(
            (p for p in self.s.packets if p.device_id == device_id),
            lambda p: (p.received_at, p.id),
            first,
            before,
        )


class FakeReadings:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def add(self, readings: Collection[Reading], reports: Collection[CapacityReport]) -> None:
        self.s.readings.extend(readings)
        self.s.capacity_reports.extend(reports)

    async def buckets(
        self, depot_id: UUID, start: datetime, end: datetime, bucket_seconds: int
    ) -> list[Bucket]:
        grouped: dict[tuple[UUID, ReadingKind, int], list[Reading]] = {}
        width = timedelta(seconds=bucket_seconds)
        first = first_bucket(start, bucket_seconds)
        for r in self.s.readings:
            if r.depot_id == depot_id and start <= r.observed_at < end:
                index = (r.observed_at - _EPOCH) // width - first
                grouped.setdefault((r.subject_id, r.kind, index), []).append(r)
        return [
            Bucket(
                subject_id,
                kind,
                index,
                min(r.value for r in rs),
                sum(r.value for r in rs) / len(rs),
                max(r.value for r in rs),
                max(enumerate(rs), key=lambda p: (p[1].observed_at, p[0]))[1].value,
            )
            for (subject_id, kind, index), rs in sorted(
                grouped.items(), key=lambda kv: (str(kv[0][0]), kv[0][1], kv[0][2])
            )
        ]

    async def capacity_runs(
        self, depot_id: UUID, start: datetime, end: datetime, stale_after_seconds: int
    ) -> list[CapacityRun]:
        mine = [r for r in self.s.capacity_reports if r.depot_id == depot_id]
        seed: dict[UUID, int] = {}
        for i, r in enumerate(mine):
            if r.observed_at < start and (
                r.circuit_id not in seed or r.observed_at >= mine[seed[r.circuit_id]].observed_at
            ):
                seed[r.circuit_id] = i
        seeds = set(seed.values())
        chain = [r for i, r in enumerate(mine) if i in seeds or start <= r.observed_at < end]
        return capacity_runs(chain, stale_after_seconds)


class FakeFlagSettings:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def for_depots(self, depot_ids: Collection[UUID]) -> list[FlagSetting]:
        found = (
            f
            for f in self.s.flag_settings.values()
            if f.depot_id is None or f.depot_id in depot_ids
        )
        return sorted(found, key=lambda f: (f.key, f.depot_id is not None, str(f.depot_id)))

    async def get(self, key: str, depot_id: UUID | None) -> FlagSetting | None:
        return self.s.flag_settings.get((key, depot_id))

    async def get_for_update(self, key: str, depot_id: UUID | None) -> FlagSetting | None:
        return await self.get(key, depot_id)  # the fake's units of work run one at a time

    async def put(self, key: str, depot_id: UUID | None, enabled: bool, at: datetime) -> None:
        if depot_id is not None and depot_id not in self.s.depots:
            raise ConstraintViolation(f"no depot {depot_id}")  # the foreign key
        self.s.flag_settings[(key, depot_id)] = FlagSetting(key, depot_id, enabled, at)

    async def remove(self, key: str, depot_id: UUID | None) -> bool:
        return self.s.flag_settings.pop((key, depot_id), None) is not None


class FakeFlagEvaluator:
    """The domain's rule over the store's settings, without OpenFeature (the
    service evaluates through OpenFeature: tests/flags covers that path)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow
        self.calls: list[list[UUID | None]] = []

    async def evaluate(
        self, depot_ids: Sequence[UUID | None]
    ) -> dict[UUID | None, list[FlagEvaluation]]:
        self.calls.append(list(depot_ids))
        async with self.uow(write=False) as uow:
            settings = await uow.flags.for_depots([d for d in depot_ids if d is not None])
        return {d: [evaluate(f, d, settings) for f in KNOWN_FLAGS.values()] for d in depot_ids}


class FakeAuditLog:
    def __init__(self, s: Store) -> None:
        self.s = s

    async def page(
        self, scope: Scope, first: int, before: tuple[datetime, UUID] | None
    ) -> list[AuditRecord]:
        visible = (
            r
            for r in self.s.audit_log
            if scope.depot_ids is None or r.entry.depot_id in scope.depot_ids
        )
        return _newest_first(visible, lambda r: (r.entry.at, r.id), first, before)


class FakeUnitOfWork:
    """Works on a copy of the store; commit writes the copy back, then announces
    the changes. No commit, no change."""

    depots: FakeDepots
    circuits: FakeCircuits
    microgrids: FakeMicrogrids
    equipment: FakeEquipment
    events: FakeEvents
    latest: FakeLatest
    sensor_actions: FakeSensorActions
    packets: FakePackets
    audit_log: FakeAuditLog
    readings: FakeReadings
    flags: FakeFlagSettings

    def __init__(self, store: Store, publisher: Publisher | None = None) -> None:
        self._store = store
        self._publisher = publisher
        self._changes: list[Change] = []
        self._audit: list[AuditEntry] = []

    async def __aenter__(self) -> Self:
        work = self._work = copy.deepcopy(self._store)
        self.depots = FakeDepots(work)
        self.circuits = FakeCircuits(work)
        self.microgrids = FakeMicrogrids(work)
        self.equipment = FakeEquipment(work)
        self.events = FakeEvents(work)
        self.latest = FakeLatest(work)
        self.sensor_actions = FakeSensorActions(work)
        self.packets = FakePackets(work)
        self.audit_log = FakeAuditLog(work)
        self.readings = FakeReadings(work)
        self.flags = FakeFlagSettings(work)
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
        """Writes the work copy back; the unit of work goes on from there, as
        a database connection begins its next transaction."""
        entries, self._audit = self._audit, []
        self._work.audit_log.extend(AuditRecord(uuid4(), e, None) for e in entries)
        for f in fields(Store):
            if f.name not in _NOT_WRITTEN_BY_COMMIT:
                setattr(self._store, f.name, copy.deepcopy(getattr(self._work, f.name)))
        self._store.commits += 1
        changes, self._changes = self._changes, []
        self._store.published.extend(changes)
        if changes and self._publisher is not None:
            await self._publisher.publish(changes)


def fake_dependencies(
    store: Store | None = None,
    clock: FakeClock | None = None,
    stale_after_seconds: int = 300,
    publisher: Publisher | None = None,
) -> Dependencies:
    """Use cases on ``store`` (a new one if not given). Committed changes are
    listed in ``store.published`` and, if given, sent to ``publisher``."""
    store = store if store is not None else Store()

    def factory(*, write: bool = True) -> FakeUnitOfWork:
        return FakeUnitOfWork(store, publisher)

    return Dependencies(
        uow=factory,
        clock=clock or FakeClock(),
        new_id=uuid4,
        stale_after_seconds=stale_after_seconds,
        flags=FakeFlagEvaluator(factory),
    )


_Row = TypeVar("_Row")


class _Keyed(Protocol):
    @property
    def id(self) -> UUID: ...


_Table = TypeVar("_Table", bound=_Keyed)


def _insert(table: dict[UUID, _Table], row: _Table) -> None:
    """A copy of ``row`` under its id; a taken id is refused, as a primary key is."""
    if row.id in table:
        raise ConstraintViolation(f"{type(row).__name__} {row.id} exists")
    table[row.id] = copy.deepcopy(row)


class _InDepot(Protocol):
    @property
    def depot_id(self) -> UUID: ...


_Owned = TypeVar("_Owned", bound=_InDepot)


def _by_depot(rows: Iterable[_Owned], depot_ids: Collection[UUID]) -> dict[UUID, list[_Owned]]:
    return _grouped((r for r in rows if r.depot_id in depot_ids), lambda r: r.depot_id)


def _grouped(rows: Iterable[_Row], key: Callable[[_Row], UUID | None]) -> dict[UUID, list[_Row]]:
    grouped: dict[UUID, list[_Row]] = {}
    for row in rows:
        group = key(row)
        if group is not None:
            grouped.setdefault(group, []).append(copy.deepcopy(row))
    return grouped


def _newest_first(
    rows: Iterable[_Row],
    order: Callable[[_Row], tuple[datetime, UUID]],
    first: int,
    before: tuple[datetime, UUID] | None,
) -> list[_Row]:
    """Up to ``first`` rows, newest first, strictly before the ``before`` key."""
    newest = sorted(rows, key=order, reverse=True)
    if before is not None:
        newest = [r for r in newest if order(r) < before]
    return [copy.deepcopy(r) for r in newest[:first]]
