"""One transaction's worth of packets: the state their actions read, loaded up
front table by table, kept current in memory as each packet's writes land, and
written back once, one statement per table.

Packets run one after the other, so each sees what the packets before it
wrote, exactly as if each had been sent (and committed) on its own; only the
round trips are shared. A read the up-front load did not foresee falls back to
the unit of work (and is remembered), so the load is an optimisation, never a
condition of correctness."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar, assert_never
from uuid import UUID

from domain.access import Scope
from domain.capability import CapabilityType, Observation, StatusEvent, supersedes
from domain.changes import Change, ChangeReason
from domain.model import Circuit, Device, Gateway, PowerSource, SensorAction, SensorActionType
from domain.packet_records import ActionOutcome, Outcome, PacketRecord
from domain.packets import Packet
from domain.ports import Dependencies, UnitOfWork
from domain.readings import CapacityReport, Reading
from domain.sensor_actions.kind import Given
from domain.sensor_actions.registry import ACTIONS
from domain.sensor_actions.update_microgrid_state import reported
from domain.sensor_actions.writes import (
    AnnounceChange,
    AppendObservations,
    RecordReadings,
    UpdateCircuit,
    UpdatePowerSource,
    UpdateSensorAction,
    Write,
)

ACTION_ORDER = list(ACTIONS)

_Changed = TypeVar("_Changed", SensorAction, PowerSource, Circuit)


def _by_id(changed: dict[UUID, _Changed]) -> list[_Changed]:
    """In id order, as concurrent batches should take row locks."""
    return [changed[k] for k in sorted(changed)]


_Target = tuple[bool, UUID]
"""Whom a change notice is for: (True, microgrid id) or (False, depot id)."""


@dataclass(slots=True)
class PacketBatch:
    """The packets' facts (the actions' ``Facts``) and the writes they asked for."""

    uow: UnitOfWork
    deps: Dependencies
    now: datetime
    devices: dict[UUID, Device]
    actions: dict[UUID, list[SensorAction]]
    sources: dict[UUID, list[PowerSource]] = field(default_factory=dict)
    gateways: dict[UUID, Gateway | None] = field(default_factory=dict)
    circuits: dict[UUID, Circuit | None] = field(default_factory=dict)
    """What the actions read, loaded up front; a miss is read and remembered."""
    streams: dict[UUID, int] = field(default_factory=dict)
    """Last sequence per locked stream, advanced in memory as events are added."""
    events: dict[tuple[UUID, str], StatusEvent | None] = field(default_factory=dict)
    latest: dict[UUID, dict[CapabilityType, StatusEvent]] = field(default_factory=dict)
    new_events: list[StatusEvent] = field(default_factory=list)
    new_latest: dict[tuple[UUID, CapabilityType], StatusEvent] = field(default_factory=dict)
    changed_actions: dict[UUID, SensorAction] = field(default_factory=dict)
    changed_sources: dict[UUID, PowerSource] = field(default_factory=dict)
    changed_circuits: dict[UUID, Circuit] = field(default_factory=dict)
    readings: list[Reading] = field(default_factory=list)
    reports: list[CapacityReport] = field(default_factory=list)
    records: list[PacketRecord] = field(default_factory=list)
    notices: list[tuple[_Target, ChangeReason, UUID | None]] = field(default_factory=list)

    @classmethod
    async def load(
        cls,
        uow: UnitOfWork,
        deps: Dependencies,
        scope: Scope,
        now: datetime,
        packets: Sequence[Packet],
    ) -> PacketBatch:
        """The devices in ``scope`` with what their actions read (one read), and
        for the bindings among them their streams, latest and these packets'
        events (three more)."""
        found = await uow.packet_facts.load({p.device_id for p in packets}, scope)
        batch = cls(
            uow,
            deps,
            now,
            found.devices,
            found.actions,
            dict(found.power_sources),
            dict(found.gateways),
            dict(found.circuits),
        )
        observations: list[Observation] = []
        for packet in packets:
            device = batch.devices.get(packet.device_id)
            if device is not None:
                for action in batch.actions[device.id]:
                    if action.type is SensorActionType.UPDATE_MICROGRID_STATE:
                        observations += reported(device.id, action, packet)
        if observations:
            await batch._lock({o.microgrid_id for o in observations})
            keys = {(o.microgrid_id, o.idempotency_key) for o in observations}
            recorded = await uow.events.find_many(keys)
            batch.events.update((k, recorded.get(k)) for k in keys)
        return batch

    async def _lock(self, microgrid_ids: Iterable[UUID]) -> None:
        """Hold the streams (before reading their events or latest) and read their latest."""
        missing = sorted(set(microgrid_ids) - self.streams.keys())
        if missing:
            self.streams.update(await self.uow.events.lock_streams(missing))
            found = await self.uow.latest.for_microgrids(missing)
            self.latest.update((m, found.get(m, {})) for m in missing)

    async def ingest(self, packet: Packet) -> PacketRecord | None:
        """Run the device's actions on the packet; its record, or None when the
        device is missing or out of scope (nothing written)."""
        device = self.devices.get(packet.device_id)
        if device is None:
            return None
        outcomes = []
        for action in sorted(self.actions[device.id], key=lambda a: ACTION_ORDER.index(a.type)):
            given = Given(action, device, packet, self.now, self.deps.stale_after_seconds)
            outcomes.append(await self._run(given))
        record = PacketRecord(
            self.deps.new_id(), device.id, packet.observed_at, self.now, packet.raw, tuple(outcomes)
        )
        self.records.append(record)
        return record

    async def _run(self, given: Given) -> ActionOutcome:
        if not given.action.enabled:
            return given.outcome(
                Outcome.SKIPPED, "ACTION_DISABLED", "This sensor action is disabled."
            )
        decision = await ACTIONS[given.action.type].decide(given, self)
        for write in decision.writes:
            settled = await self._write(write)
            if settled is not None:
                return settled
        return decision.outcome

    # The actions' Facts, answered from memory.

    async def power_sources(self, depot_id: UUID) -> list[PowerSource]:
        if depot_id not in self.sources:
            found = await self.uow.equipment.power_sources([depot_id])
            self.sources[depot_id] = found.get(depot_id, [])
        return list(self.sources[depot_id])

    async def gateway(self, gateway_id: UUID) -> Gateway | None:
        if gateway_id not in self.gateways:
            self.gateways[gateway_id] = await self.uow.equipment.gateway(gateway_id)
        return self.gateways[gateway_id]

    async def circuit(self, circuit_id: UUID) -> Circuit | None:
        if circuit_id not in self.circuits:
            self.circuits[circuit_id] = await self.uow.circuits.get(circuit_id)
        return self.circuits[circuit_id]

    async def recorded(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        key = (microgrid_id, idempotency_key)
        if key not in self.events:
            await self._lock([microgrid_id])
            self.events[key] = await self.uow.events.find(microgrid_id, idempotency_key)
        return self.events[key]

    # The writes, kept in memory until flush().

    async def _write(self, write: Write) -> ActionOutcome | None:
        """Perform one write; an outcome when it settles the action's outcome
        (the decision's later writes are then dropped)."""
        match write:
            case AppendObservations():
                appended = [await self._append(o) for o in write.observations]
                if not any(appended):
                    return write.if_all_recorded
            case UpdateSensorAction():
                action = write.action
                self.changed_actions[action.id] = action
                self.actions[action.device_id] = [
                    action if a.id == action.id else a for a in self.actions[action.device_id]
                ]
            case UpdatePowerSource():
                source = write.power_source
                self.changed_sources[source.id] = source
                held = await self.power_sources(source.depot_id)
                self.sources[source.depot_id] = [source if s.id == source.id else s for s in held]
            case UpdateCircuit():
                self.changed_circuits[write.circuit.id] = write.circuit
                self.circuits[write.circuit.id] = write.circuit
            case RecordReadings():
                self.readings.extend(write.readings)
                self.reports.extend(write.reports)
            case AnnounceChange():
                self.notices.append(((False, write.depot_id), write.reason, None))
            case _:
                assert_never(write)
        return None

    async def _append(self, observation: Observation) -> bool:
        """Append one observation unless it is already recorded; whether it was appended."""
        microgrid_id = observation.microgrid_id
        if await self.recorded(microgrid_id, observation.idempotency_key) is not None:
            return False
        await self._lock([microgrid_id])
        sequence = self.streams[microgrid_id] + 1
        self.streams[microgrid_id] = sequence
        current = self.latest[microgrid_id]
        candidate = StatusEvent(self.deps.new_id(), observation, self.now, sequence, False)
        applied = supersedes(candidate, current.get(observation.capability))
        event = replace(candidate, applied_to_latest=applied)
        self.events[(microgrid_id, observation.idempotency_key)] = event
        self.new_events.append(event)
        if applied:
            current[observation.capability] = event
            self.new_latest[(microgrid_id, observation.capability)] = event
        self.notices.append(((True, microgrid_id), ChangeReason.CAPABILITY_STATUS, event.id))
        return True

    async def flush(self) -> None:
        """Write what the packets asked for, one statement per table, and queue
        one notice per microgrid."""
        uow = self.uow
        if self.new_events:
            await uow.events.append_all(self.new_events)
        if self.new_latest:
            await uow.latest.put_all(list(self.new_latest.values()))
        if self.changed_actions:
            await uow.sensor_actions.record_last_reported(_by_id(self.changed_actions))
        if self.changed_sources:
            await uow.equipment.record_power_source_states(_by_id(self.changed_sources))
        if self.changed_circuits:
            await uow.circuits.record_capacity_reports(_by_id(self.changed_circuits))
        if self.notices:
            await self._announce()
        if self.readings or self.reports:
            await uow.readings.add(self.readings, self.reports)
        if self.records:
            await uow.packets.add_all(self.records)

    async def _announce(self) -> None:
        """One revision and one notice per microgrid, whatever the number of
        changes: the last change's reason (and event) names it."""
        microgrids = {m for (is_microgrid, m), _, _ in self.notices if is_microgrid}
        depots = {d for (is_microgrid, d), _, _ in self.notices if not is_microgrid}
        bumped = await self.uow.microgrids.bump_revisions(microgrids, depots)
        of_depot = {depot: m for m, (depot, _) in bumped.items()}
        last: dict[UUID, tuple[ChangeReason, UUID | None]] = {}
        for (is_microgrid, target), reason, event_id in self.notices:
            microgrid_id = target if is_microgrid else of_depot.get(target)
            if microgrid_id is not None and microgrid_id in bumped:
                last.pop(microgrid_id, None)
                last[microgrid_id] = (reason, event_id)
        for microgrid_id, (reason, event_id) in last.items():
            self.uow.notify(Change(microgrid_id, reason, bumped[microgrid_id][1], event_id))
