"""UPDATE_POWER_SOURCE_STATE — the routed power source's power state, BESS
operational mode and state of charge."""

from __future__ import annotations

from domain.model import BessOperationalMode, PowerSource, SensorActionType
from domain.plausible.measurands import Value
from domain.sensor_actions.kind import number, text
from domain.sensor_actions.power_source import PowerSourceAction


def _power_state(source: PowerSource, value: Value) -> None:
    source.power_state = text(value)


def _operational_mode(source: PowerSource, value: Value) -> None:
    mode = text(value)
    source.operational_mode = BessOperationalMode(mode.upper()) if mode else None


def _soc(source: PowerSource, value: Value) -> None:
    source.soc_percent = number(value)


ACTION = PowerSourceAction(
    SensorActionType.UPDATE_POWER_SOURCE_STATE,
    {"DEVICE_POWER_STATE": _power_state, "BESS_OPERATIONAL_MODE": _operational_mode, "SOC": _soc},
)
