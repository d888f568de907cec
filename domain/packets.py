"""The generic sensor packet contract (DESIGN §2): validation and parsing.

A packet that breaks the contract is rejected whole with field paths; nothing
of it is applied. The whole JSON value is checked first (size, depth, finite
numbers, clean strings — unknown keys included), then its shape."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.plausible.instants import check_epoch_ms
from domain.plausible.json_values import check_json
from domain.plausible.measurands import (
    NUMBER_KEYS,
    STATUS_VALUES,
    Value,
    check_key,
    check_unit,
    check_value,
)
from domain.plausible.text import IDENTITY, SHORT, check_text
from domain.problems import FieldError

NUMERIC_KEYS = frozenset(NUMBER_KEYS)
MAX_SENSORS = 32
MAX_MEASURANDS = 64
IDENTITY_FIELDS = ("manufacturer", "model", "serial_number")

__all__ = ["NUMERIC_KEYS", "STATUS_VALUES", "Packet", "parse_packet"]

Fail = Callable[[FieldError], None]


@dataclass(frozen=True)
class Packet:
    device_id: UUID
    timestamp_ms: int
    observed_at: datetime
    measurands: dict[str, Value]
    """Every key the packet carries (first occurrence wins), with its value."""
    raw: dict[str, Any]

    def has(self, key: str) -> bool:
        return key in self.measurands


def parse_packet(raw: object, now: datetime) -> Packet | tuple[FieldError, ...]:
    structural = check_json(raw, "packet")
    if structural:
        return structural
    errors: list[FieldError] = []
    if not isinstance(raw, dict):
        return (FieldError("packet", "NOT_AN_OBJECT", "The packet must be a JSON object."),)
    device_id = _device_id(raw, errors.append)
    stamp = _timestamp(raw, now, errors.append)
    for name in IDENTITY_FIELDS:
        if name not in raw:
            errors.append(
                FieldError(f"packet.{name}", "REQUIRED", f"{name} is required (null when unknown).")
            )
        else:
            _optional_text(raw[name], f"packet.{name}", errors.append)
    if "firmware" in raw:
        _optional_text(raw["firmware"], "packet.firmware", errors.append)
    measurands = _sensors(raw, errors.append)
    if errors or device_id is None or stamp is None:
        return tuple(errors)
    observed_at, timestamp = stamp
    return Packet(device_id, timestamp, observed_at, measurands, raw)


def _device_id(raw: dict[str, Any], fail: Fail) -> UUID | None:
    value = raw.get("device_id")
    path = "packet.device_id"
    if value is None:
        fail(FieldError(path, "REQUIRED", "device_id is required."))
        return None
    if not isinstance(value, str) or len(value) > 64:
        fail(FieldError(path, "WRONG_TYPE", "device_id must be a UUID string."))
        return None
    try:
        return UUID(value)
    except ValueError:
        fail(FieldError(path, "NOT_A_UUID", "device_id must be a UUID string."))
        return None


def _timestamp(raw: dict[str, Any], now: datetime, fail: Fail) -> tuple[datetime, int] | None:
    value = raw.get("timestamp")
    if value is None:
        fail(
            FieldError(
                "packet.timestamp", "REQUIRED", "timestamp (ms since epoch, UTC) is required."
            )
        )
        return None
    checked = check_epoch_ms(value, now, "packet.timestamp")
    if isinstance(checked, FieldError):
        fail(checked)
        return None
    return checked


def _optional_text(value: object, path: str, fail: Fail) -> None:
    if value is not None:
        checked = check_text(value, path, SHORT)
        if isinstance(checked, FieldError):
            fail(checked)


def _sensors(raw: dict[str, Any], fail: Fail) -> dict[str, Value]:
    measurands: dict[str, Value] = {}
    sensors = raw.get("sensors")
    if not isinstance(sensors, list):
        code = "REQUIRED" if sensors is None else "WRONG_TYPE"
        fail(FieldError("packet.sensors", code, "sensors must be a list."))
        return measurands
    if len(sensors) > MAX_SENSORS:
        fail(FieldError("packet.sensors", "TOO_MANY", f"At most {MAX_SENSORS} sensors."))
        return measurands
    for i, sensor in enumerate(sensors):
        path = f"packet.sensors[{i}]"
        if not isinstance(sensor, dict):
            fail(FieldError(path, "NOT_AN_OBJECT", "Each sensor must be an object."))
            continue
        sensor_id = sensor.get("sensor_id")
        if sensor_id is None:
            fail(FieldError(f"{path}.sensor_id", "REQUIRED", "sensor_id is required."))
        else:
            checked = check_text(sensor_id, f"{path}.sensor_id", IDENTITY)
            if isinstance(checked, FieldError):
                fail(checked)
        items = sensor.get("measurands")
        if not isinstance(items, list):
            code = "REQUIRED" if items is None else "WRONG_TYPE"
            fail(FieldError(f"{path}.measurands", code, "measurands must be a list."))
            continue
        if len(items) > MAX_MEASURANDS:
            fail(
                FieldError(
                    f"{path}.measurands", "TOO_MANY", f"At most {MAX_MEASURANDS} measurands."
                )
            )
            continue
        for j, item in enumerate(items):
            parsed = _measurand(item, f"{path}.measurands[{j}]", fail)
            if parsed is not None and parsed[0] not in measurands:
                measurands[parsed[0]] = parsed[1]
    return measurands


def _measurand(item: object, path: str, fail: Fail) -> tuple[str, Value] | None:
    if not isinstance(item, dict):
        fail(FieldError(path, "NOT_AN_OBJECT", "Each measurand must be an object."))
        return None
    key = check_key(item.get("key"), f"{path}.key")
    if isinstance(key, FieldError):
        fail(key)
        return None
    if "value" not in item:
        fail(FieldError(f"{path}.value", "REQUIRED", "value is required (null when unavailable)."))
        return None
    unit_problem = check_unit(key, item.get("unit"), f"{path}.unit")
    value = check_value(key, item["value"], f"{path}.value")
    if unit_problem is not None:
        fail(unit_problem)
    if isinstance(value, FieldError):
        fail(value)
    if unit_problem is not None or isinstance(value, FieldError):
        return None
    return key, value
