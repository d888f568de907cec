"""The generic sensor packet contract (DESIGN §2): validation and parsing.

A packet that breaks the contract is rejected whole with field paths; nothing
of it is applied."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.capability import MAX_FUTURE_SKEW
from domain.problems import FieldError

NUMERIC_KEYS = frozenset(
    {
        "AVAILABLE_CHARGING_CAPACITY",
        "FAIL_SAFE_CAPACITY",
        "SOC",
        "CURRENT",
        "FREQUENCY",
        "VOLTAGE",
        "LINE_VOLTAGE",
        "TOTAL_POWER_LOAD",
        "TOTAL_REACTIVE_POWER",
        "TOTAL_APPARENT_POWER",
        "TOTAL_POWER_FACTOR",
        "PHASE_1N_VOLTAGE_THD",
        "PHASE_2N_VOLTAGE_THD",
        "PHASE_3N_VOLTAGE_THD",
    }
)
STATUS_VALUES: dict[str, frozenset[str]] = {
    "HEARTBEAT_STATUS": frozenset({"ok", "connection_lost", "timeout", "error"}),
    "DISPATCH_STATE": frozenset({"on", "off"}),
    "LIMIT_DER_EXPORT": frozenset({"true", "false"}),
    "LIMIT_PEAK_SHAVING": frozenset({"true", "false"}),
    "DEVICE_POWER_STATE": frozenset({"on", "off"}),
    "BESS_OPERATIONAL_MODE": frozenset({"idle", "charging", "discharging", "automatic", "error"}),
}
NON_NEGATIVE_KEYS = frozenset({"AVAILABLE_CHARGING_CAPACITY", "FAIL_SAFE_CAPACITY"})
KEY_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]*$")
MAX_SENSORS = 100
MAX_MEASURANDS = 200
MAX_TEXT = 200
IDENTITY_FIELDS = ("manufacturer", "model", "serial_number")


@dataclass(frozen=True)
class Packet:
    device_id: UUID
    timestamp_ms: int
    observed_at: datetime
    measurands: dict[str, float | str | None]
    """Every key the packet carries (first occurrence wins), with its value."""
    raw: dict[str, Any]

    def has(self, key: str) -> bool:
        return key in self.measurands


def parse_packet(raw: object, now: datetime) -> Packet | tuple[FieldError, ...]:
    errors: list[FieldError] = []

    def fail(path: str, code: str, message: str) -> None:
        errors.append(FieldError(f"packet{path}", code, message))

    if not isinstance(raw, dict):
        fail("", "NOT_AN_OBJECT", "The packet must be a JSON object.")
        return tuple(errors)
    device_id = _device_id(raw, fail)
    observed_at, timestamp = _timestamp(raw, now, fail)
    for name in IDENTITY_FIELDS:
        if name not in raw:
            fail(f".{name}", "REQUIRED", f"{name} is required (null when unknown).")
        else:
            _optional_text(raw[name], f".{name}", fail)
    if "firmware" in raw:
        _optional_text(raw["firmware"], ".firmware", fail)
    measurands = _sensors(raw, fail)
    if errors or device_id is None or observed_at is None or timestamp is None:
        return tuple(errors)
    return Packet(device_id, timestamp, observed_at, measurands, raw)


def _device_id(raw: dict[str, Any], fail: Any) -> UUID | None:
    value = raw.get("device_id")
    if value is None:
        fail(".device_id", "REQUIRED", "device_id is required.")
        return None
    if not isinstance(value, str):
        fail(".device_id", "WRONG_TYPE", "device_id must be a UUID string.")
        return None
    try:
        return UUID(value)
    except ValueError:
        fail(".device_id", "NOT_A_UUID", "device_id must be a UUID string.")
        return None


def _timestamp(raw: dict[str, Any], now: datetime, fail: Any) -> tuple[datetime | None, int | None]:
    value = raw.get("timestamp")
    if value is None:
        fail(".timestamp", "REQUIRED", "timestamp (ms since epoch, UTC) is required.")
        return None, None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
    ):
        fail(".timestamp", "WRONG_TYPE", "timestamp must be whole milliseconds since the epoch.")
        return None, None
    if value < 0:
        fail(".timestamp", "OUT_OF_RANGE", "timestamp must not be before 1970.")
        return None, None
    try:
        observed = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(value))
    except OverflowError:
        fail(".timestamp", "OUT_OF_RANGE", "timestamp is out of range.")
        return None, None
    if observed > now + MAX_FUTURE_SKEW:
        fail(
            ".timestamp",
            "IN_THE_FUTURE",
            "timestamp is more than 5 minutes ahead of the server clock.",
        )
        return None, None
    return observed, int(value)


def _optional_text(value: object, path: str, fail: Any) -> None:
    if value is not None and not isinstance(value, str):
        fail(path, "WRONG_TYPE", "Must be a string or null.")
    elif isinstance(value, str) and len(value) > MAX_TEXT:
        fail(path, "TOO_LONG", f"At most {MAX_TEXT} characters.")


def _sensors(raw: dict[str, Any], fail: Any) -> dict[str, float | str | None]:
    measurands: dict[str, float | str | None] = {}
    sensors = raw.get("sensors")
    if not isinstance(sensors, list):
        fail(".sensors", "REQUIRED" if sensors is None else "WRONG_TYPE", "sensors must be a list.")
        return measurands
    if len(sensors) > MAX_SENSORS:
        fail(".sensors", "TOO_MANY", f"At most {MAX_SENSORS} sensors.")
        return measurands
    for i, sensor in enumerate(sensors):
        path = f".sensors[{i}]"
        if not isinstance(sensor, dict):
            fail(path, "NOT_AN_OBJECT", "Each sensor must be an object.")
            continue
        sensor_id = sensor.get("sensor_id")
        if not isinstance(sensor_id, str) or not sensor_id:
            fail(
                f"{path}.sensor_id",
                "REQUIRED" if sensor_id is None else "WRONG_TYPE",
                "sensor_id must be a non-empty string.",
            )
        items = sensor.get("measurands")
        if not isinstance(items, list):
            fail(
                f"{path}.measurands",
                "REQUIRED" if items is None else "WRONG_TYPE",
                "measurands must be a list.",
            )
            continue
        if len(items) > MAX_MEASURANDS:
            fail(f"{path}.measurands", "TOO_MANY", f"At most {MAX_MEASURANDS} measurands.")
            continue
        for j, item in enumerate(items):
            parsed = _measurand(item, f"{path}.measurands[{j}]", fail)
            if parsed is not None and parsed[0] not in measurands:
                measurands[parsed[0]] = parsed[1]
    return measurands


def _measurand(item: object, path: str, fail: Any) -> tuple[str, float | str | None] | None:
    if not isinstance(item, dict):
        fail(path, "NOT_AN_OBJECT", "Each measurand must be an object.")
        return None
    key, value = item.get("key"), item.get("value")
    if not isinstance(key, str) or not KEY_PATTERN.match(key) or len(key) > 64:
        fail(f"{path}.key", "INVALID_KEY", "key must be an upper-case name, e.g. SOC.")
        return None
    if "value" not in item:
        fail(f"{path}.value", "REQUIRED", "value is required (null when unavailable).")
        return None
    _optional_text(item.get("unit"), f"{path}.unit", fail)
    if value is None:
        return key, None
    if key in NUMERIC_KEYS:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            fail(f"{path}.value", "WRONG_TYPE", f"{key} must be a number (SI units) or null.")
            return None
        if key == "SOC" and not 0 <= value <= 100:
            fail(f"{path}.value", "OUT_OF_RANGE", "SOC must be between 0 and 100 (%).")
            return None
        if key in NON_NEGATIVE_KEYS and value < 0:
            fail(f"{path}.value", "OUT_OF_RANGE", f"{key} must not be negative (W).")
            return None
        return key, float(value)
    if key in STATUS_VALUES:
        allowed = STATUS_VALUES[key]
        if not isinstance(value, str) or value not in allowed:
            fail(
                f"{path}.value", "NOT_IN_SET", f"{key} must be one of {', '.join(sorted(allowed))}."
            )
            return None
        return key, value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        fail(f"{path}.value", "WRONG_TYPE", "value must be a number, a string or null.")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        fail(f"{path}.value", "WRONG_TYPE", "value must be finite.")
        return None
    if isinstance(value, str) and len(value) > MAX_TEXT:
        fail(f"{path}.value", "TOO_LONG", f"At most {MAX_TEXT} characters.")
        return None
    return key, value if isinstance(value, str) else float(value)
