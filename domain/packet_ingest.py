"""Taking in a generic sensor packet: validate it whole, run each configured
sensor action once, keep the packet with every outcome — one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from domain.access import Scope
from domain.capability import CapabilityType, Observation
from domain.changes import Change, ChangeReason
from domain.model import BessOperationalMode, Device, SensorAction, SensorActionType
from domain.packet_records import ActionOutcome, Outcome, PacketRecord
from domain.packets import Packet, parse_packet
from domain.ports import Dependencies, UnitOfWork
from domain.problems import NotFound, ValidationFailed
from domain.routing import Unroutable, route
from domain.status_ingest import StatusRecorded, append_observation

STATUS_KEYS = {
    "LIMIT_PEAK_SHAVING": CapabilityType.PEAK_SHAVING,
    "LIMIT_DER_EXPORT": CapabilityType.DER,
}
POWER_SOURCE_STATE_KEYS = ("DEVICE_POWER_STATE", "BESS_OPERATIONAL_MODE", "SOC")
POWER_SOURCE_LOAD_KEYS = ("TOTAL_POWER_LOAD",)
CAPACITY_REQUIRED = ("AVAILABLE_CHARGING_CAPACITY", "HEARTBEAT_STATUS")
ACTION_ORDER = list(SensorActionType)


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
        step = _Step(uow, deps, device, parsed, now)
        outcomes = tuple([await step.run(action) for action in actions])
        record = PacketRecord(
            deps.new_id(), device.id, parsed.observed_at, now, parsed.raw, outcomes
        )
        await uow.packets.add(record)
        await uow.commit()
    return PacketIngested(record)


@dataclass
class _Step:
    uow: UnitOfWork
    deps: Dependencies
    device: Device
    packet: Packet
    now: datetime

    async def run(self, action: SensorAction) -> ActionOutcome:
        if not action.enabled:
            return _outcome(
                action, Outcome.SKIPPED, "ACTION_DISABLED", "This sensor action is disabled."
            )
        match action.type:
            case SensorActionType.UPDATE_MICROGRID_STATE:
                return await self.microgrid_state(action)
            case SensorActionType.UPDATE_POWER_SOURCE_STATE:
                return await self.power_source(action, POWER_SOURCE_STATE_KEYS)
            case SensorActionType.UPDATE_POWER_SOURCE_LOAD:
                return await self.power_source(action, POWER_SOURCE_LOAD_KEYS)
            case SensorActionType.UPDATE_CIRCUIT_CAPACITY:
                return await self.circuit_capacity(action)

    async def microgrid_state(self, binding: SensorAction) -> ActionOutcome:
        owned = set(binding.capabilities or [])
        keys = [k for k, c in STATUS_KEYS.items() if c in owned and self.packet.has(k)]
        if not keys:
            return _outcome(
                binding,
                Outcome.SKIPPED,
                "MEASURAND_ABSENT",
                "The packet carries no status this binding owns.",
            )
        usable = [k for k in keys if self.packet.measurands[k] is not None]
        if not usable:
            return _outcome(
                binding,
                Outcome.SKIPPED,
                "VALUE_UNAVAILABLE",
                "The owned statuses are reported as unavailable (null).",
                measurands=keys,
            )
        assert binding.microgrid_id is not None
        observations = [
            Observation(
                microgrid_id=binding.microgrid_id,
                capability=STATUS_KEYS[k],
                value=self.packet.measurands[k] == "true",
                observed_at=self.packet.observed_at,
                provider_event_ref=f"{self.device.id}:{self.packet.timestamp_ms}:{k}",
                source_device_id=self.device.id,
            )
            for k in usable
        ]
        for observation in observations:
            earlier = await self.uow.events.find(
                observation.microgrid_id, observation.idempotency_key
            )
            if earlier is not None and not earlier.observation.same_content(observation):
                return _outcome(
                    binding,
                    Outcome.REJECTED,
                    "PROVIDER_EVENT_REF_REUSED",
                    "A packet with this device and timestamp was already applied "
                    "with other values.",
                    binding.microgrid_id,
                    usable,
                )
        results = [await append_observation(self.uow, self.deps, o, self.now) for o in observations]
        if all(isinstance(r, StatusRecorded) and r.duplicate for r in results):
            return _outcome(
                binding,
                Outcome.SKIPPED,
                "DUPLICATE",
                "This packet was already applied.",
                binding.microgrid_id,
                usable,
            )
        if binding.last_reported_at is None or binding.last_reported_at < self.packet.observed_at:
            await self.uow.sensor_actions.update(
                replace(binding, last_reported_at=self.packet.observed_at)
            )
        return _outcome(
            binding,
            Outcome.APPLIED,
            "APPLIED",
            "Capability status recorded.",
            binding.microgrid_id,
            usable,
        )

    async def power_source(self, action: SensorAction, keys: tuple[str, ...]) -> ActionOutcome:
        present = [k for k in keys if self.packet.has(k)]
        if not present:
            return _outcome(
                action,
                Outcome.SKIPPED,
                "MEASURAND_ABSENT",
                f"The packet carries none of {', '.join(keys)}.",
            )
        depot = self.device.depot_id
        sources = (await self.uow.equipment.power_sources([depot])).get(depot, [])
        gateway = (
            await self.uow.equipment.gateway(self.device.gateway_id)
            if self.device.gateway_id
            else None
        )
        routed = route(self.device, action.type, sources, gateway)
        if isinstance(routed, Unroutable):
            return _outcome(
                action,
                Outcome.REMEDIATION_REQUIRED,
                routed.code,
                routed.message,
                measurands=present,
            )
        source = routed.power_source
        if source.updated_at is not None and source.updated_at > self.packet.observed_at:
            return _outcome(
                action,
                Outcome.SKIPPED,
                "OLDER_THAN_CURRENT",
                "The power source already has newer values.",
                source.id,
                present,
            )
        values = self.packet.measurands
        updated = replace(source, updated_at=self.packet.observed_at)
        if "DEVICE_POWER_STATE" in present:
            updated.power_state = _text(values["DEVICE_POWER_STATE"])
        if "BESS_OPERATIONAL_MODE" in present:
            mode = _text(values["BESS_OPERATIONAL_MODE"])
            updated.operational_mode = BessOperationalMode(mode.upper()) if mode else None
        if "SOC" in present:
            updated.soc_percent = _number(values["SOC"])
        if "TOTAL_POWER_LOAD" in present:
            updated.load_w = _number(values["TOTAL_POWER_LOAD"])
        await self.uow.equipment.update_power_source(updated)
        await self._announce(ChangeReason.POWER_SOURCE)
        return _outcome(
            action,
            Outcome.APPLIED,
            "APPLIED",
            f"Power source updated (routed by {routed.rule}).",
            source.id,
            present,
        )

    async def circuit_capacity(self, action: SensorAction) -> ActionOutcome:
        present = [k for k in (*CAPACITY_REQUIRED, "FAIL_SAFE_CAPACITY") if self.packet.has(k)]
        if self.device.circuit_id is None:
            return _outcome(
                action,
                Outcome.REMEDIATION_REQUIRED,
                "DEVICE_HAS_NO_CIRCUIT",
                "Wire the device to a circuit to report its capacity.",
                measurands=present,
            )
        missing = [k for k in CAPACITY_REQUIRED if not self.packet.has(k)]
        if len(missing) == len(CAPACITY_REQUIRED):
            return _outcome(
                action,
                Outcome.SKIPPED,
                "MEASURAND_ABSENT",
                "The packet carries no capacity report.",
                measurands=present,
            )
        if missing:
            return _outcome(
                action,
                Outcome.REJECTED,
                "REQUIRED_MEASURAND_MISSING",
                f"{missing[0]} is required with "
                f"{' and '.join(k for k in CAPACITY_REQUIRED if k not in missing)}.",
                self.device.circuit_id,
                present,
            )
        circuit = await self.uow.circuits.get(self.device.circuit_id)
        assert circuit is not None
        observed = circuit.capacity_observed_at
        if observed is not None and observed > self.packet.observed_at:
            return _outcome(
                action,
                Outcome.SKIPPED,
                "OLDER_THAN_CURRENT",
                "The circuit already has a newer capacity report.",
                circuit.id,
                present,
            )
        values = self.packet.measurands
        updated = replace(
            circuit,
            available_capacity_w=_number(values["AVAILABLE_CHARGING_CAPACITY"]),
            heartbeat_status=_text(values["HEARTBEAT_STATUS"]),
            capacity_observed_at=self.packet.observed_at,
            capacity_updated_at=self.now,
        )
        if "FAIL_SAFE_CAPACITY" in present:
            updated.fail_safe_capacity_w = _number(values["FAIL_SAFE_CAPACITY"])
        await self.uow.circuits.update(updated)
        await self._announce(ChangeReason.CAPACITY)
        return _outcome(
            action, Outcome.APPLIED, "APPLIED", "Circuit capacity updated.", circuit.id, present
        )

    async def _announce(self, reason: ChangeReason) -> None:
        microgrid = await self.uow.microgrids.for_depot(self.device.depot_id)
        if microgrid is not None:
            revision = await self.uow.microgrids.bump_revision(microgrid.id)
            self.uow.notify(Change(microgrid.id, reason, revision))


def _outcome(
    action: SensorAction,
    outcome: Outcome,
    code: str,
    message: str,
    target_id: UUID | None = None,
    measurands: list[str] | None = None,
) -> ActionOutcome:
    return ActionOutcome(
        action.id, action.type, outcome, code, message, target_id, tuple(measurands or ())
    )


def _number(value: float | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _text(value: float | str | None) -> str | None:
    return value if isinstance(value, str) else None
