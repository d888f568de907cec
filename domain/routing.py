"""Which power source a device's packet is about — never a guess.

Rules, first that gives exactly one: (1) the one power source on the
device's circuit; (2) the one BATTERY in the depot; (3) the gateway's
outputTranslation (legacy compatibility: {"powerSourceId": "<id>"}, or per
action {"UPDATE_POWER_SOURCE_STATE": "<id>", ...})."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from domain.model import Device, Gateway, PowerSource, PowerSourceKind, SensorActionType


@dataclass(frozen=True)
class Routed:
    power_source: PowerSource
    rule: str


@dataclass(frozen=True)
class Unroutable:
    code: str
    message: str


def route(
    device: Device,
    action: SensorActionType,
    depot_sources: Sequence[PowerSource],
    gateway: Gateway | None,
) -> Routed | Unroutable:
    ambiguous = False
    if device.circuit_id is not None:
        on_circuit = [p for p in depot_sources if p.circuit_id == device.circuit_id]
        if len(on_circuit) == 1:
            return Routed(on_circuit[0], "DEVICE_CIRCUIT")
        ambiguous = len(on_circuit) > 1
    batteries = [p for p in depot_sources if p.kind is PowerSourceKind.BATTERY]
    if len(batteries) == 1:
        return Routed(batteries[0], "ONLY_BATTERY")
    ambiguous = ambiguous or len(batteries) > 1
    translated = _translated(gateway, action, depot_sources)
    if translated is not None:
        return Routed(translated, "OUTPUT_TRANSLATION")
    if ambiguous:
        return Unroutable(
            "AMBIGUOUS_POWER_SOURCE",
            "More than one power source could be meant (several batteries in the "
            "depot, none alone on the device's circuit); wire the device to the "
            "power source's circuit or map it in the gateway's outputTranslation.",
        )
    return Unroutable(
        "NO_POWER_SOURCE",
        "No power source on the device's circuit, no battery in the depot and no "
        "outputTranslation mapping for this device's gateway.",
    )


def _translated(
    gateway: Gateway | None, action: SensorActionType, depot_sources: Sequence[PowerSource]
) -> PowerSource | None:
    mapping = gateway.output_translation if gateway else None
    if not isinstance(mapping, dict):
        return None
    raw = mapping.get(action.value, mapping.get("powerSourceId"))
    try:
        wanted = UUID(str(raw)) if raw is not None else None
    except ValueError:
        return None
    return next((p for p in depot_sources if p.id == wanted), None)
