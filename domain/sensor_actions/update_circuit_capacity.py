"""UPDATE_CIRCUIT_CAPACITY — the controller's capacity report on the device's
circuit: available and fail-safe capacity and the heartbeat, from which
domain/capacity.py derives the effective capacity. Both required keys absent
is no report (SKIPPED); one of them absent is unusable (REJECTED)."""

from __future__ import annotations

from dataclasses import replace

from domain.capacity import effective_capacity
from domain.changes import ChangeReason
from domain.model import Circuit, SensorActionType
from domain.packet_records import Outcome
from domain.readings import CapacityReport, Reading, ReadingKind
from domain.sensor_actions.kind import ActionKind, Decision, Facts, Given, number, text
from domain.sensor_actions.writes import AnnounceChange, RecordReadings, UpdateCircuit

REQUIRED = ("AVAILABLE_CHARGING_CAPACITY", "HEARTBEAT_STATUS")


class UpdateCircuitCapacity(ActionKind):
    type = SensorActionType.UPDATE_CIRCUIT_CAPACITY
    keys = (*REQUIRED, "FAIL_SAFE_CAPACITY")

    async def decide(self, given: Given, facts: Facts) -> Decision:
        device, packet = given.device, given.packet
        present = given.present(self.keys)
        if device.circuit_id is None:
            return Decision(
                given.outcome(
                    Outcome.REMEDIATION_REQUIRED,
                    "DEVICE_HAS_NO_CIRCUIT",
                    "Wire the device to a circuit to report its capacity.",
                    measurands=present,
                )
            )
        missing = [k for k in REQUIRED if not packet.has(k)]
        if len(missing) == len(REQUIRED):
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "MEASURAND_ABSENT",
                    "The packet carries no capacity report.",
                    measurands=present,
                )
            )
        if missing:
            return Decision(
                given.outcome(
                    Outcome.REJECTED,
                    "REQUIRED_MEASURAND_MISSING",
                    f"{missing[0]} is required with "
                    f"{' and '.join(k for k in REQUIRED if k not in missing)}.",
                    device.circuit_id,
                    present,
                )
            )
        circuit = await facts.circuit(device.circuit_id)
        assert circuit is not None
        observed = circuit.capacity_observed_at
        if observed is not None and observed > packet.observed_at:
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "OLDER_THAN_CURRENT",
                    "The circuit already has a newer capacity report.",
                    circuit.id,
                    present,
                )
            )
        values = packet.measurands
        updated = replace(
            circuit,
            available_capacity_w=number(values["AVAILABLE_CHARGING_CAPACITY"]),
            heartbeat_status=text(values["HEARTBEAT_STATUS"]),
            capacity_observed_at=packet.observed_at,
            capacity_updated_at=given.now,
        )
        if "FAIL_SAFE_CAPACITY" in present:
            updated.fail_safe_capacity_w = number(values["FAIL_SAFE_CAPACITY"])
        if replace(updated, capacity_updated_at=circuit.capacity_updated_at) == circuit:
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "ALREADY_CURRENT",
                    "The circuit already holds this capacity report from this instant"
                    " (a re-sent packet).",
                    circuit.id,
                    present,
                )
            )
        return Decision(
            given.outcome(
                Outcome.APPLIED, "APPLIED", "Circuit capacity updated.", circuit.id, present
            ),
            (
                UpdateCircuit(updated),
                AnnounceChange(device.depot_id, ChangeReason.CAPACITY),
                _charted(updated, given.stale_after_seconds),
            ),
        )


def _charted(circuit: Circuit, stale_after_seconds: int) -> RecordReadings:
    """The report as the circuit holds it after it, and the available, fail-safe
    and effective capacity at the report's observed time (those that are known)."""
    at = circuit.capacity_observed_at
    assert at is not None
    effective = effective_capacity(circuit, at, stale_after_seconds)
    values = (
        (ReadingKind.CIRCUIT_AVAILABLE_CAPACITY_W, circuit.available_capacity_w),
        (ReadingKind.CIRCUIT_FAIL_SAFE_CAPACITY_W, circuit.fail_safe_capacity_w),
        (ReadingKind.CIRCUIT_EFFECTIVE_CAPACITY_W, effective.watts),
    )
    return RecordReadings(
        tuple(
            Reading(circuit.depot_id, circuit.id, kind, at, value)
            for kind, value in values
            if value is not None
        ),
        (
            CapacityReport(
                circuit.depot_id,
                circuit.id,
                at,
                circuit.available_capacity_w,
                circuit.fail_safe_capacity_w,
                circuit.heartbeat_status,
            ),
        ),
    )


ACTION = UpdateCircuitCapacity()
