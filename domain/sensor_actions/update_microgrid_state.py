"""UPDATE_MICROGRID_STATE — the controller binding: a capability status per
packet key, for the capabilities the binding owns, through the same
append/projection path as recordCapabilityStatus. observedAt is the packet's
timestamp; the providerEventRef is derived from device, timestamp and key, so
a re-sent packet is a duplicate."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING
from uuid import UUID

from domain.capability import CapabilityType, Observation
from domain.model import SensorAction, SensorActionType
from domain.packet_records import Outcome
from domain.sensor_actions.kind import ActionKind, Decision, Facts, Given
from domain.sensor_actions.writes import AppendObservations, UpdateSensorAction, Write

if TYPE_CHECKING:
    from domain.packets import Packet

CAPABILITY_KEYS: dict[CapabilityType, str] = {
    CapabilityType.PEAK_SHAVING: "LIMIT_PEAK_SHAVING",
    CapabilityType.DER: "LIMIT_DER_EXPORT",
}
"""The packet key that reports each capability ("true" -> ON, "false" -> OFF);
the packet contract (domain/plausible/measurands.py) takes its status values
from here, so a new capability type needs only its line here."""


class UpdateMicrogridState(ActionKind):
    type = SensorActionType.UPDATE_MICROGRID_STATE
    keys = tuple(CAPABILITY_KEYS.values())

    async def decide(self, given: Given, facts: Facts) -> Decision:
        binding, packet = given.action, given.packet
        owned = set(binding.capabilities or [])
        capability_of = {key: c for c, key in CAPABILITY_KEYS.items() if c in owned}
        present = given.present(list(capability_of))
        if not present:
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "MEASURAND_ABSENT",
                    "The packet carries no status this binding owns.",
                )
            )
        usable = [k for k in present if packet.measurands[k] is not None]
        if not usable:
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "VALUE_UNAVAILABLE",
                    "The owned statuses are reported as unavailable (null).",
                    measurands=present,
                )
            )
        microgrid_id = binding.microgrid_id
        assert microgrid_id is not None
        observations = reported(given.device.id, binding, packet)
        for observation in observations:
            earlier = await facts.recorded(microgrid_id, observation.idempotency_key)
            if earlier is not None and not earlier.observation.same_content(observation):
                return Decision(
                    given.outcome(
                        Outcome.REJECTED,
                        "PROVIDER_EVENT_REF_REUSED",
                        "A packet with this device and timestamp was already applied "
                        "with other values.",
                        microgrid_id,
                        usable,
                    )
                )
        writes: list[Write] = [
            AppendObservations(
                observations,
                if_all_recorded=given.outcome(
                    Outcome.SKIPPED,
                    "DUPLICATE",
                    "This packet was already applied.",
                    microgrid_id,
                    usable,
                ),
            )
        ]
        if binding.last_reported_at is None or binding.last_reported_at < packet.observed_at:
            writes.append(UpdateSensorAction(replace(binding, last_reported_at=packet.observed_at)))
        return Decision(
            given.outcome(
                Outcome.APPLIED, "APPLIED", "Capability status recorded.", microgrid_id, usable
            ),
            tuple(writes),
        )


def reported(device_id: UUID, binding: SensorAction, packet: Packet) -> tuple[Observation, ...]:
    """The observations a packet reports through an enabled binding: one per
    owned capability whose key the packet carries with a value."""
    if not binding.enabled or binding.microgrid_id is None:
        return ()
    owned = set(binding.capabilities or [])
    return tuple(
        Observation(
            microgrid_id=binding.microgrid_id,
            capability=capability,
            value=packet.measurands[key] == "true",
            observed_at=packet.observed_at,
            provider_event_ref=f"{device_id}:{packet.timestamp_ms}:{key}",
            source_device_id=device_id,
        )
        for capability, key in CAPABILITY_KEYS.items()
        if capability in owned and packet.measurands.get(key) is not None
    )


ACTION = UpdateMicrogridState()
