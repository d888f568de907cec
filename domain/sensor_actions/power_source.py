"""What the two power-source actions share: route the packet to one power
source (domain/routing.py, never a guess), keep newer values, and write the
keys the action reads into it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from domain.changes import ChangeReason
from domain.model import PowerSource, SensorActionType
from domain.packet_records import Outcome
from domain.plausible.measurands import Value
from domain.readings import Reading, ReadingKind
from domain.routing import Unroutable, route
from domain.sensor_actions.kind import ActionKind, Decision, Facts, Given
from domain.sensor_actions.writes import AnnounceChange, RecordReadings, UpdatePowerSource, Write

Setter = Callable[[PowerSource, Value], None]
"""Writes one measurand's value into the action's own copy of the power source."""

CHARTED: dict[str, tuple[ReadingKind, Callable[[PowerSource], float | None]]] = {
    "TOTAL_POWER_LOAD": (ReadingKind.POWER_SOURCE_LOAD_W, lambda s: s.load_w),
    "SOC": (ReadingKind.POWER_SOURCE_SOC_PERCENT, lambda s: s.soc_percent),
}
"""The keys whose applied value becomes a load-chart reading, and where the
power source holds it (an unavailable value, null, is a gap: no reading)."""


class PowerSourceAction(ActionKind):
    def __init__(self, action_type: SensorActionType, setters: Mapping[str, Setter]) -> None:
        self.type = action_type
        self.keys = tuple(setters)
        self._setters = dict(setters)

    async def decide(self, given: Given, facts: Facts) -> Decision:
        device, packet = given.device, given.packet
        present = given.present(self.keys)
        if not present:
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "MEASURAND_ABSENT",
                    f"The packet carries none of {', '.join(self.keys)}.",
                )
            )
        sources = await facts.power_sources(device.depot_id)
        gateway = await facts.gateway(device.gateway_id) if device.gateway_id else None
        routed = route(device, self.type, sources, gateway)
        if isinstance(routed, Unroutable):
            return Decision(
                given.outcome(
                    Outcome.REMEDIATION_REQUIRED, routed.code, routed.message, measurands=present
                )
            )
        source = routed.power_source
        if source.updated_at is not None and source.updated_at > packet.observed_at:
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "OLDER_THAN_CURRENT",
                    "The power source already has newer values.",
                    source.id,
                    present,
                )
            )
        updated = replace(source, updated_at=packet.observed_at)
        for key in present:
            self._setters[key](updated, packet.measurands[key])
        if updated == source:
            return Decision(
                given.outcome(
                    Outcome.SKIPPED,
                    "ALREADY_CURRENT",
                    "The power source already holds these values from this instant"
                    " (a re-sent packet).",
                    source.id,
                    present,
                )
            )
        writes: list[Write] = [
            UpdatePowerSource(updated),
            AnnounceChange(device.depot_id, ChangeReason.POWER_SOURCE),
        ]
        readings = tuple(
            Reading(updated.depot_id, updated.id, kind, packet.observed_at, value)
            for kind, held in (CHARTED[k] for k in present if k in CHARTED)
            if (value := held(updated)) is not None
        )
        if readings:
            writes.append(RecordReadings(readings))
        return Decision(
            given.outcome(
                Outcome.APPLIED,
                "APPLIED",
                f"Power source updated (routed by {routed.rule}).",
                source.id,
                present,
            ),
            tuple(writes),
        )
