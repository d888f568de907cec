"""UPDATE_POWER_SOURCE_STATE — the routed power source's power state, BESS
operational mode and state of charge."""

from __future__ import annotations

from dataclasses import replace

from domain.model import BessOperationalMode, PowerSource, SensorActionType
from domain.plausible.measurands import Value
from domain.sensor_actions.kind import number, text
from domain.sensor_actions.power_source import PowerSourceAction


def _operational_mode(source: PowerSource, value: Value) -> PowerSource:
    mode = text(value)
    return replace(source, operational_mode=BessOperationalMode(mode.upper()) if mode else None)


ACTION = PowerSourceAction(
    SensorActionType.UPDATE_POWER_SOURCE_STATE,
    {
        "DEVICE_POWER_STATE": lambda source, value: replace(source, power_state=text(value)),
        "BESS_OPERATIONAL_MODE": _operational_mode,
        "SOC": lambda source, value: replace(source, soc_percent=number(value)),
    },
)
