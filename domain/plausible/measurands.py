"""What each measurand key may carry: its documented unit and its range.

Units are never converted: a value in another unit than the key's is refused
with its field path. ``null`` as the unit means "the documented unit"."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from domain.plausible.text import SHORT, check_text
from domain.problems import FieldError
from domain.sensor_actions.update_microgrid_state import CAPABILITY_KEYS

KEY_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
MAX_POWER_W = 1e9
MAX_OTHER = 1e15
"""Bound of numbers under keys the service does not know (kept as sent)."""


@dataclass(frozen=True)
class NumberKey:
    unit: str | None
    """The documented unit; None for dimensionless keys (only a null unit)."""
    low: float
    high: float


POWER = NumberKey("W", -MAX_POWER_W, MAX_POWER_W)
CAPACITY = NumberKey("W", 0, MAX_POWER_W)
NUMBER_KEYS: dict[str, NumberKey] = {
    "AVAILABLE_CHARGING_CAPACITY": CAPACITY,
    "FAIL_SAFE_CAPACITY": CAPACITY,
    "SOC": NumberKey("%", 0, 100),
    "CURRENT": NumberKey("A", -1e6, 1e6),
    "FREQUENCY": NumberKey("Hz", 0, 1000),
    "VOLTAGE": NumberKey("V", -1e6, 1e6),
    "LINE_VOLTAGE": NumberKey("V", -1e6, 1e6),
    "TOTAL_POWER_LOAD": POWER,
    "TOTAL_REACTIVE_POWER": NumberKey("var", -MAX_POWER_W, MAX_POWER_W),
    "TOTAL_APPARENT_POWER": NumberKey("VA", 0, MAX_POWER_W),
    "TOTAL_POWER_FACTOR": NumberKey(None, -1, 1),
    "PHASE_1N_VOLTAGE_THD": NumberKey("%", 0, 100),
    "PHASE_2N_VOLTAGE_THD": NumberKey("%", 0, 100),
    "PHASE_3N_VOLTAGE_THD": NumberKey("%", 0, 100),
}
STATUS_VALUES: dict[str, frozenset[str]] = {
    "HEARTBEAT_STATUS": frozenset({"ok", "connection_lost", "timeout", "error"}),
    "DISPATCH_STATE": frozenset({"on", "off"}),
    **dict.fromkeys(CAPABILITY_KEYS.values(), frozenset({"true", "false"})),
    "DEVICE_POWER_STATE": frozenset({"on", "off"}),
    "BESS_OPERATIONAL_MODE": frozenset({"idle", "charging", "discharging", "automatic", "error"}),
}

Value = float | str | None


def check_key(key: object, path: str) -> str | FieldError:
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        return FieldError(path, "INVALID_KEY", "key must match ^[A-Z][A-Z0-9_]{0,63}$, e.g. SOC.")
    return key


def check_unit(key: str, unit: object, path: str) -> FieldError | None:
    if unit is None:
        return None
    spec = NUMBER_KEYS.get(key)
    if spec is None and key not in STATUS_VALUES:
        checked = check_text(unit, path, SHORT)
        return checked if isinstance(checked, FieldError) else None
    if spec is None or spec.unit is None or unit != spec.unit:
        documented = f"'{spec.unit}'" if spec is not None and spec.unit else "null"
        return FieldError(path, "WRONG_UNIT", f"The unit of {key} is {documented}; no conversion.")
    return None


def check_value(key: str, value: object, path: str) -> Value | FieldError:
    """The value to apply, or why it is refused (null means unavailable)."""
    if value is None:
        return None
    if key in NUMBER_KEYS:
        return _number(key, value, path, NUMBER_KEYS[key])
    if key in STATUS_VALUES:
        allowed = STATUS_VALUES[key]
        if not isinstance(value, str) or value not in allowed:
            return FieldError(
                path, "NOT_IN_SET", f"{key} must be one of {', '.join(sorted(allowed))}."
            )
        return value
    if isinstance(value, str):
        return check_text(value, path, SHORT)
    return _number(key, value, path, NumberKey(None, -MAX_OTHER, MAX_OTHER))


def _number(key: str, value: object, path: str, spec: NumberKey) -> float | FieldError:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return FieldError(path, "WRONG_TYPE", f"{key} must be a number or null.")
    if isinstance(value, float) and not math.isfinite(value):
        return FieldError(path, "NOT_FINITE", "Numbers must be finite.")
    if not spec.low <= value <= spec.high:
        unit = f" {spec.unit}" if spec.unit else ""
        return FieldError(
            path, "OUT_OF_RANGE", f"{key} must lie between {spec.low:g} and {spec.high:g}{unit}."
        )
    return float(value) + 0.0  # -0.0 reads back as 0.0 from SQLite but -0.0 from PostgreSQL
