"""What the use cases need from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from domain.access import EVERYWHERE, Scope
from domain.audit import AuditEntry, AuditRecord
from domain.capability import CapabilityType, StatusEvent
from domain.changes import Change
from domain.chart_intervals import StatusRun
from domain.feature_flags import FlagEvaluation, FlagSetting
from domain.model import Circuit, Depot, Device, Gateway, Microgrid, PowerSource, SensorAction
from domain.packet_records import PacketRecord
from domain.readings import Bucket, CapacityReport, CapacityRun, Reading


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return once ``now() >= moment`` (tests move a fake clock instead of waiting)."""
        ...


class Depots(Protocol):
    async def add(self, depot: Depot) -> None: ...
    async def get(self, depot_id: UUID) -> Depot | None: ...
    async def get_many(self, depot_ids: Collection[UUID]) -> dict[UUID, Depot]: ...

    async def lock(self, depot_id: UUID) -> Depot | None:
        """Read the depot and hold it against concurrent changes until commit."""
        ...

    async def page(self, scope: Scope, first: int, after: tuple[str, UUID] | None) -> list[Depot]:
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
    async def get(self, circuit_id: UUID, scope: Scope = EVERYWHERE) -> Circuit | None:
        """The circuit if it is in ``scope``: outside it, as if missing (same statement)."""
        ...

    async def for_depot(self, depot_id: UUID) -> list[Circuit]: ...
    async def record_capacity_reports(self, circuits: Sequence[Circuit]) -> None:
        """Write what capacity reports own of each circuit (available and
        fail-safe capacity, heartbeat, observed and updated at), one statement."""
        ...

    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]: ...
    async def top_level_for_depots(
        self, depot_ids: Collection[UUID]
    ) -> dict[UUID, list[Circuit]]: ...


class Microgrids(Protocol):
    async def get(self, microgrid_id: UUID, scope: Scope = EVERYWHERE) -> Microgrid | None:
        """The active microgrid if its depot is in ``scope``; outside it, as if missing."""
        ...

    async def depot_of(self, microgrid_id: UUID, scope: Scope = EVERYWHERE) -> UUID | None:
        """The depot of an active microgrid in ``scope``, without loading its grid
        connections."""
        ...

    async def for_depot(self, depot_id: UUID) -> Microgrid | None: ...
    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, Microgrid]: ...

    async def add_if_absent(self, microgrids: list[Microgrid]) -> set[UUID]:
        """Insert each microgrid unless its depot already has an active one (the
        database decides, so concurrent callers cannot both win). Returns the ids
        of the microgrids that were inserted, with their grid connections."""
        ...

    async def save(self, microgrid: Microgrid) -> None:
        """Persist version, updated_at and exactly the given grid connections;
        bumps ``microgrid.revision``."""
        ...

    async def bump_revision(self, microgrid_id: UUID) -> int:
        """Count one more change to what the microgrid's card shows; returns the new revision."""
        ...

    async def bump_revisions(
        self, microgrid_ids: Collection[UUID], depot_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID, int]]:
        """One more change, once each, to these microgrids and to the active
        microgrid of each of these depots (one statement); their new revision
        and depot by microgrid id. A depot without a microgrid is left out."""
        ...


class CapabilityEvents(Protocol):
    """The append-only store of capability-status events, one stream per microgrid."""

    async def reserve_sequence(self, microgrid_id: UUID) -> int:
        """The next sequence of the stream, held (against other writers) until commit,
        so sequences have no gaps."""
        ...

    async def find(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None: ...
    async def append(self, event: StatusEvent) -> None: ...

    async def lock_streams(self, microgrid_ids: Collection[UUID]) -> dict[UUID, int]:
        """The last sequence of each stream (0 for a new one), each held against
        other writers until commit (taken in id order, one statement), so events
        read after it are current and sequences set from it have no gaps."""
        ...

    async def find_many(
        self, keys: Collection[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], StatusEvent]:
        """The events stored under these (microgrid, idempotency key) pairs (one statement)."""
        ...

    async def append_all(self, events: Sequence[StatusEvent]) -> None:
        """Append events whose sequences follow their locked streams, in order
        (one statement), and move each stream's last sequence to its last event."""
        ...

    async def history(
        self,
        microgrid_ids: Collection[UUID],
        capability: CapabilityType | None,
        first: int,
        before_sequence: int | None,
    ) -> dict[UUID, list[StatusEvent]]:
        """Up to ``first`` events of each stream, newest first (one query for
        all streams)."""
        ...

    async def after(self, microgrid_id: UUID, sequence: int, limit: int) -> list[StatusEvent]:
        """Oldest first, strictly after ``sequence``."""
        ...

    async def last_sequence(self, microgrid_id: UUID) -> int: ...

    async def all_events(self) -> list[StatusEvent]: ...

    async def status_changes(
        self,
        microgrid_id: UUID,
        start: datetime,
        end: datetime,
        stale_after: Mapping[CapabilityType, int],
    ) -> list[StatusRun]:
        """What a chart of ``[start, end)`` needs, in one statement: per
        capability, the runs (``domain.chart_intervals.StatusRun``) of the
        latest event observed before ``start`` and the events observed in the
        range, in (observedAt, sequence) order; ordered by capability, then
        observed order. Only each run's first and last event are read back;
        the events in the middle of a run change nothing the chart shows.
        (Not the bare list of those events: a chart cannot tell a run's first
        and last, more than stale_after apart, from two runs of one event.)"""
        ...


class LatestStatuses(Protocol):
    """The projection: one latest event per (microgrid, capability)."""

    async def for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, dict[CapabilityType, StatusEvent]]: ...

    async def put(self, event: StatusEvent) -> None: ...
    async def put_all(self, events: Sequence[StatusEvent]) -> None:
        """``put`` each of them, at most one per (microgrid, capability), in one statement."""
        ...

    async def replace_all(self, latest: list[StatusEvent]) -> None: ...


class Equipment(Protocol):
    """Power sources, gateways and devices of a depot."""

    async def add_power_source(self, power_source: PowerSource) -> None: ...
    async def add_gateway(self, gateway: Gateway) -> None: ...
    async def add_device(self, device: Device) -> None: ...
    async def gateway(self, gateway_id: UUID, scope: Scope = EVERYWHERE) -> Gateway | None: ...
    async def device(self, device_id: UUID, scope: Scope = EVERYWHERE) -> Device | None:
        """The device if its depot is in ``scope``; outside it, as if missing."""
        ...

    async def devices_by_id(
        self, device_ids: Collection[UUID], scope: Scope = EVERYWHERE
    ) -> dict[UUID, Device]: ...
    async def power_sources(self, depot_ids: Collection[UUID]) -> dict[UUID, list[PowerSource]]: ...
    async def gateways(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Gateway]]: ...
    async def devices(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Device]]: ...
    async def update_power_source(self, power_source: PowerSource) -> None: ...
    async def record_power_source_states(self, power_sources: Sequence[PowerSource]) -> None:
        """Write what sensor packets own of each power source (power state,
        operational mode, SOC, load, updated at), one statement for all."""
        ...


class SensorActions(Protocol):
    """Sensor actions; an UPDATE_MICROGRID_STATE action is a controller binding."""

    async def add(self, action: SensorAction) -> None: ...
    async def update(self, action: SensorAction) -> None: ...
    async def get(self, action_id: UUID, scope: Scope = EVERYWHERE) -> SensorAction | None:
        """The action if its device's depot is in ``scope``; outside it, as if missing."""
        ...

    async def for_devices(self, device_ids: Collection[UUID]) -> dict[UUID, list[SensorAction]]: ...
    async def record_last_reported(self, actions: Sequence[SensorAction]) -> None:
        """Write each binding's ``last_reported_at``, one statement for all."""
        ...

    async def bindings_for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, list[SensorAction]]: ...


@dataclass(frozen=True)
class PacketEquipment:
    """What the sensor actions of some devices may read: the devices in scope,
    their actions, their gateways and circuits, their depots' power sources."""

    devices: dict[UUID, Device]
    actions: dict[UUID, list[SensorAction]]
    power_sources: dict[UUID, list[PowerSource]]
    """By depot (every depot of the devices, with or without power sources)."""
    gateways: dict[UUID, Gateway]
    circuits: dict[UUID, Circuit]


class PacketFacts(Protocol):
    async def load(self, device_ids: Collection[UUID], scope: Scope) -> PacketEquipment:
        """In one read where the store can (a packet's lookups in one round trip)."""
        ...


class PacketRecords(Protocol):
    async def add(self, record: PacketRecord) -> None: ...
    async def add_all(self, records: Sequence[PacketRecord]) -> None:
        """Keep several packets, in order (one statement)."""
        ...

    async def page(
        self, device_id: UUID, first: int, before: tuple[datetime, UUID] | None
    ) -> list[PacketRecord]:
        """Newest first (received_at, then id), strictly before ``before``."""
        ...


class Readings(Protocol):
    """Load-chart readings and capacity reports (append-only)."""

    async def add(self, readings: Collection[Reading], reports: Collection[CapacityReport]) -> None:
        """Append, in one round trip per table."""
        ...

    async def buckets(
        self, depot_id: UUID, start: datetime, end: datetime, bucket_seconds: int
    ) -> list[Bucket]:
        """Every non-empty bucket of every series of the depot in ``[start, end)``,
        on the grid of ``w``-second buckets since the Unix epoch: bucket ``i``
        holds the range's readings with ``(g + i)*w <= observedAt < (g + i + 1)*w``
        where ``g`` is the grid bucket holding ``start``
        (``domain.load_chart.first_bucket``). Computed by the store in one
        statement, whatever the range."""
        ...

    async def capacity_runs(
        self, depot_id: UUID, start: datetime, end: datetime, stale_after_seconds: int
    ) -> list[CapacityRun]:
        """``domain.chart_intervals.capacity_runs`` of each circuit's newest
        report before ``start`` (ties: the one written later) and its reports
        in ``[start, end)``; ordered by circuit, then observed order. One
        statement, whatever the range."""
        ...


class AuditLog(Protocol):
    async def page(
        self, scope: Scope, first: int, before: tuple[datetime, UUID] | None
    ) -> list[AuditRecord]:
        """Newest first; a depot-scoped reader sees only entries of its depots."""
        ...


class FlagSettings(Protocol):
    """Admins' feature-flag settings: at most one global setting per key and one per
    (key, depot), which the database enforces."""

    async def for_depots(self, depot_ids: Collection[UUID]) -> list[FlagSetting]:
        """Every global setting and every setting of these depots, in one statement."""
        ...

    async def get(self, key: str, depot_id: UUID | None) -> FlagSetting | None: ...

    async def get_for_update(self, key: str, depot_id: UUID | None) -> FlagSetting | None:
        """The setting of (key, depot), holding (key, depot) locked until the transaction
        ends even while no setting exists, so concurrent sets of it run one after another
        and each sees the value it replaces."""
        ...

    async def put(self, key: str, depot_id: UUID | None, enabled: bool, at: datetime) -> None:
        """Insert or replace the setting of (key, depot) in one statement, so two
        concurrent puts cannot both insert; ``updated_by`` is the unit of work's acting
        token, as in the audit log."""
        ...

    async def remove(self, key: str, depot_id: UUID | None) -> bool:
        """Whether there was a setting to remove."""
        ...


class FlagEvaluator(Protocol):
    """Evaluates every known flag (the service evaluates through OpenFeature)."""

    async def evaluate(
        self, depot_ids: Sequence[UUID | None]
    ) -> dict[UUID | None, list[FlagEvaluation]]:
        """Every known flag for each depot (None: the global values), in the order of
        ``KNOWN_FLAGS``. No scope check: callers pass depots the reader may see."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls back."""

    @property
    def depots(self) -> Depots: ...
    @property
    def circuits(self) -> Circuits: ...
    @property
    def microgrids(self) -> Microgrids: ...
    @property
    def equipment(self) -> Equipment: ...
    @property
    def events(self) -> CapabilityEvents: ...
    @property
    def latest(self) -> LatestStatuses: ...
    @property
    def sensor_actions(self) -> SensorActions: ...
    @property
    def packets(self) -> PacketRecords: ...
    @property
    def readings(self) -> Readings: ...
    @property
    def packet_facts(self) -> PacketFacts: ...
    @property
    def flags(self) -> FlagSettings: ...

    def notify(self, change: Change) -> None:
        """Publish ``change`` once this unit of work has committed."""
        ...

    def audit(self, entry: AuditEntry) -> None:
        """Record an accepted configuration change in this transaction."""
        ...

    @property
    def audit_log(self) -> AuditLog: ...

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
    stale_after_seconds: int = 300
    flags: FlagEvaluator | None = None
    """Feature-flag evaluation; the composition root wires the OpenFeature one."""
    packet_retention_days: int = 30
    """Packets received longer ago than this may have been removed (PACKET_RETENTION_DAYS)."""
