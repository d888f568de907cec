"""UPDATE_POWER_SOURCE_LOAD — the routed power source's load (W)."""

from __future__ import annotations

from domain.model import PowerSource, SensorActionType
from domain.plausible.measurands import Value
from domain.sensor_actions.kind import number
from domain.sensor_actions.power_source import PowerSourceAction


def _load(source: PowerSource, value: Value) -> None:
    source.load_w = number(value)


ACTION = PowerSourceAction(SensorActionType.UPDATE_POWER_SOURCE_LOAD, {"TOTAL_POWER_LOAD": _load})
