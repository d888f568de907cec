"""UPDATE_POWER_SOURCE_LOAD — the routed power source's load (W)."""

from __future__ import annotations

from dataclasses import replace

from domain.model import SensorActionType
from domain.sensor_actions.kind import number
from domain.sensor_actions.power_source import PowerSourceAction

ACTION = PowerSourceAction(
    SensorActionType.UPDATE_POWER_SOURCE_LOAD,
    {"TOTAL_POWER_LOAD": lambda source, value: replace(source, load_w=number(value))},
)
