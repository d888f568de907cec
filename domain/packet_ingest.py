"""Taking in a generic sensor packet: validate it whole, run each configured
sensor action once, keep the packet with every outcome — one transaction.

The actions (domain/sensor_actions/) decide; this use case answers their
reads from the unit of work and performs the writes they ask for, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never
from uuid import UUID

from domain.access import Scope
from domain.capability import StatusEvent
from domain.changes import Change
from domain.model import Circuit, Gateway, PowerSource
from domain.packet_records import ActionOutcome, Outcome, PacketRecord
from domain.packets import Packet, parse_packet
from domain.ports import Dependencies, UnitOfWork
from domain.problems import NotFound, ValidationFailed
from domain.readings import CapacityReport, Reading
from domain.sensor_actions.kind import Facts, Given
from domain.sensor_actions.registry import ACTIONS
from domain.sensor_actions.writes import (
    AnnounceChange,
    AppendObservations,
    RecordReadings,
    UpdateCircuit,
    UpdatePowerSource,
    UpdateSensorAction,
    Write,
)
from domain.status_ingest import StatusRecorded, append_observation

ACTION_ORDER = list(ACTIONS)


@dataclass(frozen=True)
class PacketIngested:
    record: PacketRecord


async def ingest_packet(
    deps: Dependencies, scope: Scope, raw: object
) -> PacketIngested | NotFound | ValidationFailed:
    now = deps.clock.now()
    parsed = parse_packet(raw, now)
    if not isinstance(parsed, Packet):
        return ValidationFailed(
            field_errors=parsed,
            message="The packet breaks the contract; nothing of it was applied.",
        )
    async with deps.uow() as uow:
        device = await uow.equipment.device(parsed.device_id, scope)
        if device is None:
            return NotFound("Device", str(parsed.device_id))
        actions = sorted(
            (await uow.sensor_actions.for_devices([device.id])).get(device.id, []),
            key=lambda a: ACTION_ORDER.index(a.type),
        )
        facts, writer = _UnitOfWorkFacts(uow), _Writer(uow, deps, now)
        outcomes = [
            await _run(Given(a, device, parsed, now, deps.stale_after_seconds), facts, writer)
            for a in actions
        ]
        if writer.readings or writer.reports:
            await uow.readings.add(writer.readings, writer.reports)
        record = PacketRecord(
            deps.new_id(), device.id, parsed.observed_at, now, parsed.raw, tuple(outcomes)
        )
        await uow.packets.add(record)
        await uow.commit()
    return PacketIngested(record)


async def _run(given: Given, facts: Facts, writer: _Writer) -> ActionOutcome:
    if not given.action.enabled:
        return given.outcome(Outcome.SKIPPED, "ACTION_DISABLED", "This sensor action is disabled.")
    decision = await ACTIONS[given.action.type].decide(given, facts)
    for write in decision.writes:
        settled = await writer.write(write)
        if settled is not None:
            return settled
    return decision.outcome


@dataclass(frozen=True, slots=True)
class _UnitOfWorkFacts:
    """The actions' reads, one statement each, inside the packet's transaction."""

    uow: UnitOfWork

    async def power_sources(self, depot_id: UUID) -> list[PowerSource]:
        return (await self.uow.equipment.power_sources([depot_id])).get(depot_id, [])

    async def gateway(self, gateway_id: UUID) -> Gateway | None:
        return await self.uow.equipment.gateway(gateway_id)

    async def circuit(self, circuit_id: UUID) -> Circuit | None:
        return await self.uow.circuits.get(circuit_id)

    async def recorded(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        return await self.uow.events.find(microgrid_id, idempotency_key)


@dataclass(frozen=True, slots=True)
class _Writer:
    uow: UnitOfWork
    deps: Dependencies
    now: datetime
    readings: list[Reading] = field(default_factory=list)
    reports: list[CapacityReport] = field(default_factory=list)
    """The packet's readings and reports, appended once after its actions ran."""

    async def write(self, write: Write) -> ActionOutcome | None:
        """Perform one write; an outcome when it settles the action's outcome
        (the decision's later writes are then dropped)."""
        uow = self.uow
        match write:
            case AppendObservations():
                results = [
                    await append_observation(uow, self.deps, o, self.now)
                    for o in write.observations
                ]
                if all(isinstance(r, StatusRecorded) and r.duplicate for r in results):
                    return write.if_all_recorded
            case UpdateSensorAction():
                await uow.sensor_actions.update(write.action)
            case UpdatePowerSource():
                await uow.equipment.update_power_source(write.power_source)
            case UpdateCircuit():
                await uow.circuits.update(write.circuit)
            case RecordReadings():
                self.readings.extend(write.readings)
                self.reports.extend(write.reports)
            case AnnounceChange():
                microgrid = await uow.microgrids.for_depot(write.depot_id)
                if microgrid is not None:
                    revision = await uow.microgrids.bump_revision(microgrid.id)
                    uow.notify(Change(microgrid.id, write.reason, revision))
            case _:
                assert_never(write)
        return None
