"""The generic sensor packet contract (DESIGN §2), table-driven from its text."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from domain.packets import Packet, parse_packet

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TS = int(NOW.timestamp() * 1000)
DEVICE = "5b0c0f5e-7a1a-4a53-8c55-1b2f0e9c4d11"


def packet(*measurands: tuple[str, object], **overrides: object) -> dict:
    base = {
        "device_id": DEVICE,
        "timestamp": TS,
        "manufacturer": "BBA",
        "model": "MGC",
        "serial_number": None,
        "sensors": [
            {
                "sensor_id": "mgc-1",
                "measurands": [{"key": k, "value": v, "unit": None} for k, v in measurands],
            }
        ],
    }
    base.update(overrides)
    return base


STATUS_SETS = {
    "HEARTBEAT_STATUS": ["ok", "connection_lost", "timeout", "error"],
    "DISPATCH_STATE": ["on", "off"],
    "LIMIT_DER_EXPORT": ["true", "false"],
    "LIMIT_PEAK_SHAVING": ["true", "false"],
    "DEVICE_POWER_STATE": ["on", "off"],
    "BESS_OPERATIONAL_MODE": ["idle", "charging", "discharging", "automatic", "error"],
}
NUMERIC = [
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
]


@pytest.mark.parametrize(
    ("key", "value"), [(key, value) for key, values in STATUS_SETS.items() for value in values]
)
def test_every_status_value_of_the_contract_is_accepted(key, value):
    parsed = parse_packet(packet((key, value)), NOW)
    assert isinstance(parsed, Packet) and parsed.measurands == {key: value}


@pytest.mark.parametrize("key", list(STATUS_SETS))
def test_a_status_outside_its_set_rejects_the_packet(key):
    for bad in ("OK", "maybe", 1, True):
        errors = parse_packet(packet((key, bad)), NOW)
        assert not isinstance(errors, Packet)
        assert [(e.field, e.code) for e in errors] == [
            ("packet.sensors[0].measurands[0].value", "NOT_IN_SET")
        ]


@pytest.mark.parametrize("key", NUMERIC)
def test_numeric_keys_take_numbers_or_null(key):
    ok = parse_packet(packet((key, 0.5), ("X_NULL_" + key[:3], None)), NOW)
    assert isinstance(ok, Packet) and ok.measurands[key] == 0.5
    assert parse_packet(packet((key, None)), NOW).measurands[key] is None
    for bad in ("42", True, [1]):
        errors = parse_packet(packet((key, bad)), NOW)
        assert [e.code for e in errors] == ["WRONG_TYPE"]


@pytest.mark.parametrize(
    ("value", "accepted"), [(0, True), (100, True), (55.5, True), (-0.1, False), (100.01, False)]
)
def test_soc_must_be_a_percentage(value, accepted):
    parsed = parse_packet(packet(("SOC", value)), NOW)
    assert isinstance(parsed, Packet) is accepted
    if not accepted:
        assert [(e.field, e.code) for e in parsed] == [
            ("packet.sensors[0].measurands[0].value", "OUT_OF_RANGE")
        ]


@pytest.mark.parametrize(
    ("mutate", "field", "code"),
    [
        (lambda p: p.pop("device_id"), "packet.device_id", "REQUIRED"),
        (lambda p: p.update(device_id=42), "packet.device_id", "WRONG_TYPE"),
        (lambda p: p.update(device_id="not-a-uuid"), "packet.device_id", "NOT_A_UUID"),
        (lambda p: p.pop("timestamp"), "packet.timestamp", "REQUIRED"),
        (lambda p: p.update(timestamp="2026-01-01"), "packet.timestamp", "WRONG_TYPE"),
        (lambda p: p.update(timestamp=1.5), "packet.timestamp", "WRONG_TYPE"),
        (lambda p: p.update(timestamp=True), "packet.timestamp", "WRONG_TYPE"),
        (lambda p: p.update(timestamp=-1), "packet.timestamp", "OUT_OF_RANGE"),
        (lambda p: p.update(timestamp=TS + 301_000), "packet.timestamp", "IN_THE_FUTURE"),
        (lambda p: p.pop("manufacturer"), "packet.manufacturer", "REQUIRED"),
        (lambda p: p.update(model=5), "packet.model", "WRONG_TYPE"),
        (lambda p: p.update(firmware=5), "packet.firmware", "WRONG_TYPE"),
        (lambda p: p.pop("sensors"), "packet.sensors", "REQUIRED"),
        (lambda p: p.update(sensors={}), "packet.sensors", "WRONG_TYPE"),
        (lambda p: p["sensors"][0].pop("sensor_id"), "packet.sensors[0].sensor_id", "REQUIRED"),
        (
            lambda p: p["sensors"][0].update(measurands=None),
            "packet.sensors[0].measurands",
            "REQUIRED",
        ),
        (
            lambda p: p["sensors"][0]["measurands"][0].update(key="soc"),
            "packet.sensors[0].measurands[0].key",
            "INVALID_KEY",
        ),
        (
            lambda p: p["sensors"][0]["measurands"][0].pop("value"),
            "packet.sensors[0].measurands[0].value",
            "REQUIRED",
        ),
        (
            lambda p: p["sensors"][0]["measurands"][0].update(unit=7),
            "packet.sensors[0].measurands[0].unit",
            "WRONG_UNIT",
        ),
    ],
)
def test_contract_violations_name_their_field(mutate, field, code):
    raw = copy.deepcopy(packet(("SOC", 50)))
    mutate(raw)
    errors = parse_packet(raw, NOW)
    assert not isinstance(errors, Packet)
    assert (field, code) in [(e.field, e.code) for e in errors]


def test_firmware_may_be_omitted_and_unknown_upper_case_keys_are_stored():
    parsed = parse_packet(packet(("VENDOR_SPECIFIC", "x"), ("CURRENT", 3)), NOW)
    assert isinstance(parsed, Packet)
    assert parsed.measurands == {"VENDOR_SPECIFIC": "x", "CURRENT": 3.0}


def test_the_packet_timestamp_is_milliseconds_since_the_epoch_in_utc():
    parsed = parse_packet(packet(("SOC", 1), timestamp=TS + 1500), NOW)
    assert parsed.observed_at == datetime(2026, 6, 1, 12, 0, 1, 500000, tzinfo=UTC)


def test_every_error_of_a_packet_is_reported_at_once():
    raw = packet(("SOC", 101), ("HEARTBEAT_STATUS", "fine"))
    raw.pop("device_id")
    errors = parse_packet(raw, NOW)
    assert {e.field for e in errors} == {
        "packet.device_id",
        "packet.sensors[0].measurands[0].value",
        "packet.sensors[0].measurands[1].value",
    }


def test_a_packet_that_is_not_an_object_is_refused():
    assert [e.code for e in parse_packet([1, 2], NOW)] == ["NOT_AN_OBJECT"]
