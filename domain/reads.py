"""Read use cases. Batch functions take many keys at once so the API can load
nested fields without one query per parent."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain import microgrid_sync, topology
from domain.access import Scope
from domain.audit import AuditRecord
from domain.capability import CapabilityType, StatusEvent, StatusView, view
from domain.microgrid_sync import ResyncPlan
from domain.model import Circuit, Depot, Device, Gateway, Microgrid, PowerSource, SensorAction
from domain.packet_records import PacketRecord
from domain.plausible.instants import READ_CEILING, READ_FLOOR
from domain.plausible.text import NAME, check_text
from domain.ports import Dependencies
from domain.problems import FieldError, NotFound
from domain.stale_thresholds import thresholds

MAX_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 1024


@dataclass(frozen=True)
class Page:
    items: list[Depot]
    has_next_page: bool

    def cursor(self, depot: Depot) -> str:
        return encode_cursor(depot)


def encode_cursor(depot: Depot) -> str:
    raw = json.dumps([depot.name, str(depot.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[str, UUID] | None:
    """The position a depot cursor names; None (start over) for anything else."""
    try:
        name, raw_id = json.loads(_cursor_bytes(cursor))
        if not isinstance(name, str) or isinstance(check_text(name, "after", NAME), FieldError):
            return None
        return name, UUID(str(raw_id))
    except (ValueError, TypeError, binascii.Error):
        return None


def _cursor_bytes(cursor: str) -> bytes:
    """Cursors are short; a long one is not ours (and is not decoded)."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("cursor too long")
    return base64.urlsafe_b64decode(cursor.encode())


async def depot_page(deps: Dependencies, scope: Scope, first: int, after: str | None) -> Page:
    """Depots by name. ``first`` is clamped to 1..100; a bad cursor starts over."""
    size = max(1, min(first, MAX_PAGE_SIZE))
    key = decode_cursor(after) if after else None
    async with deps.uow(write=False) as uow:
        rows = await uow.depots.page(scope, size + 1, key)
    return Page(rows[:size], len(rows) > size)


async def depots(deps: Dependencies, scope: Scope, ids: Collection[UUID]) -> dict[UUID, Depot]:
    allowed = [i for i in ids if scope.allows(i)]
    if not allowed:
        return {}
    async with deps.uow(write=False) as uow:
        return await uow.depots.get_many(allowed)


async def circuits_by_depot(deps: Dependencies, ids: Collection[UUID]) -> dict[UUID, list[Circuit]]:
    async with deps.uow(write=False) as uow:
        return await uow.circuits.for_depots(ids)


async def microgrids_by_depot(deps: Dependencies, ids: Collection[UUID]) -> dict[UUID, Microgrid]:
    async with deps.uow(write=False) as uow:
        return await uow.microgrids.for_depots(ids)


async def microgrid(
    deps: Dependencies, scope: Scope, microgrid_id: UUID | None
) -> Microgrid | NotFound:
    if microgrid_id is not None:
        async with deps.uow(write=False) as uow:
            found = await uow.microgrids.get(microgrid_id, scope)
        if found is not None:
            return found
    return NotFound("Microgrid", str(microgrid_id) if microgrid_id else None)


async def microgrid_by_depot(
    deps: Dependencies, scope: Scope, depot_id: UUID | None
) -> Microgrid | NotFound:
    if depot_id is not None and scope.allows(depot_id):
        async with deps.uow(write=False) as uow:
            found = await uow.microgrids.for_depot(depot_id)
            if found is not None:
                return found
            if await uow.depots.get(depot_id) is not None:
                return NotFound(
                    "Microgrid",
                    None,
                    message=(
                        f"Depot {depot_id} has no microgrid: it has no top-level circuit yet."
                    ),
                )
    return NotFound("Depot", str(depot_id) if depot_id else None)


@dataclass(frozen=True)
class DepotEquipment:
    power_sources: dict[UUID, list[PowerSource]]
    gateways: dict[UUID, list[Gateway]]
    devices: dict[UUID, list[Device]]


async def equipment_by_depot(deps: Dependencies, ids: Collection[UUID]) -> DepotEquipment:
    async with deps.uow(write=False) as uow:
        return DepotEquipment(
            await uow.equipment.power_sources(ids),
            await uow.equipment.gateways(ids),
            await uow.equipment.devices(ids),
        )


def drift(microgrid: Microgrid, circuits: list[Circuit]) -> ResyncPlan:
    return microgrid_sync.plan(microgrid, circuits)


def topology_of(
    microgrid: Microgrid, circuits: list[Circuit], equipment: DepotEquipment
) -> list[topology.TopologyNode]:
    depot = microgrid.depot_id
    return topology.build(
        microgrid.grid_connections,
        circuits,
        equipment.power_sources.get(depot, []),
        equipment.devices.get(depot, []),
    )


async def latest_statuses(
    deps: Dependencies, microgrid_ids: Collection[UUID]
) -> dict[UUID, dict[CapabilityType, StatusEvent]]:
    async with deps.uow(write=False) as uow:
        return await uow.latest.for_microgrids(microgrid_ids)


def status_views(
    deps: Dependencies,
    latest: dict[CapabilityType, StatusEvent],
    bindings: list[SensorAction],
) -> list[StatusView]:
    """One view per capability, always present, in the enum's order; each with
    the stale threshold of the enabled binding owning it, else the default."""
    now = deps.clock.now()
    stale_after = thresholds(bindings, deps.stale_after_seconds)
    return [view(c, latest.get(c), now, stale_after[c]) for c in CapabilityType]


@dataclass(frozen=True)
class HistoryPage:
    events: list[StatusEvent]
    has_next_page: bool


async def capability_histories(
    deps: Dependencies,
    microgrid_ids: Collection[UUID],
    capability: CapabilityType | None,
    first: int,
    after: str | None,
) -> dict[UUID, HistoryPage]:
    """One page per microgrid, newest first, in one query; the cursor is the
    sequence of the last event seen."""
    size = max(1, min(first, MAX_PAGE_SIZE))
    before = decode_sequence(after) if after else None
    async with deps.uow(write=False) as uow:
        found = await uow.events.history(microgrid_ids, capability, size + 1, before)
    return {
        i: HistoryPage(found.get(i, [])[:size], len(found.get(i, [])) > size) for i in microgrid_ids
    }


def encode_sequence(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{sequence}".encode()).decode()


def decode_sequence(cursor: str) -> int | None:
    """The sequence a history cursor names; None (start over) for anything else."""
    try:
        prefix, _, value = _cursor_bytes(cursor).decode().partition(":")
        sequence = int(value) if prefix == "seq" and value.isascii() else None
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    return sequence if sequence is not None and 0 < sequence < 2**63 else None


async def sensor_actions_by_device(
    deps: Dependencies, device_ids: Collection[UUID]
) -> dict[UUID, list[SensorAction]]:
    async with deps.uow(write=False) as uow:
        return await uow.sensor_actions.for_devices(device_ids)


async def bindings_by_microgrid(
    deps: Dependencies, microgrid_ids: Collection[UUID]
) -> dict[UUID, list[SensorAction]]:
    async with deps.uow(write=False) as uow:
        return await uow.sensor_actions.bindings_for_microgrids(microgrid_ids)


async def device(deps: Dependencies, scope: Scope, device_id: UUID | None) -> Device | None:
    if device_id is None:
        return None
    async with deps.uow(write=False) as uow:
        return await uow.equipment.device(device_id, scope)


async def devices(
    deps: Dependencies, scope: Scope, device_ids: Collection[UUID]
) -> dict[UUID, Device]:
    """The devices among these that the scope sees, in one query."""
    async with deps.uow(write=False) as uow:
        return await uow.equipment.devices_by_id(device_ids, scope)


async def controller_binding(
    deps: Dependencies, scope: Scope, binding_id: UUID | None
) -> SensorAction | None:
    if binding_id is None:
        return None
    async with deps.uow(write=False) as uow:
        action = await uow.sensor_actions.get(binding_id, scope)
    return action if action is not None and action.is_binding else None


@dataclass(frozen=True)
class PacketPage:
    records: list[PacketRecord]
    has_next_page: bool
    retained_since: datetime
    """Every packet received since this instant is kept; older ones may have
    been removed by retention (a whole day at a time)."""


def encode_packet_cursor(record: PacketRecord) -> str:
    raw = json.dumps([record.received_at.isoformat(), str(record.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_packet_cursor(cursor: str) -> tuple[datetime, UUID] | None:
    """The (time, id) position a packet or audit cursor names; None (start
    over) for anything else, a naive or unrepresentable time included."""
    try:
        at, raw_id = json.loads(_cursor_bytes(cursor))
        moment = datetime.fromisoformat(str(at))
        if moment.tzinfo is None or moment.utcoffset() is None:
            return None
        utc = moment.astimezone(UTC)
        if not READ_FLOOR <= utc <= READ_CEILING:
            return None
        return utc, UUID(str(raw_id))
    except (ValueError, TypeError, OverflowError, binascii.Error):
        return None


async def sensor_packets(
    deps: Dependencies, scope: Scope, device_id: UUID | None, first: int, after: str | None
) -> PacketPage:
    """Newest first; an unknown or hidden device has no packets."""
    retained_since = deps.clock.now() - timedelta(days=deps.packet_retention_days)
    found = await device(deps, scope, device_id)
    if found is None:
        return PacketPage([], False, retained_since)
    size = max(1, min(first, MAX_PAGE_SIZE))
    before = decode_packet_cursor(after) if after else None
    async with deps.uow(write=False) as uow:
        rows = await uow.packets.page(found.id, size + 1, before)
    return PacketPage(rows[:size], len(rows) > size, retained_since)


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    has_next_page: bool


def encode_audit_cursor(record: AuditRecord) -> str:
    raw = json.dumps([record.entry.at.isoformat(), str(record.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode()


async def audit_trail(deps: Dependencies, scope: Scope, first: int, after: str | None) -> AuditPage:
    """Newest first; a depot-scoped admin sees only its depots' entries."""
    size = max(1, min(first, MAX_PAGE_SIZE))
    before = decode_packet_cursor(after) if after else None
    async with deps.uow(write=False) as uow:
        rows = await uow.audit_log.page(scope, size + 1, before)
    return AuditPage(rows[:size], len(rows) > size)
