"""The BBA translation, checked against DESIGN §2's tables (not against the code)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.packets import Packet, parse_packet
from simulator.bba import translate
from simulator.packets import plan
from simulator.scenario import load, presets

# DESIGN §2, "BBA microgrid controller translation", row by row.
DESIGN_TABLE = [
    ("MCN_MGC_CMS_AVAILABLE_PWR", 250000, "AVAILABLE_CHARGING_CAPACITY", 250000.0),
    ("MCN_MGC_CMS_FAILSAFE_PWR", 80000, "FAIL_SAFE_CAPACITY", 80000.0),
    ("MCN_MGC_BESS_SOC", 42.5, "SOC", 42.5),
    ("MCN_MGC_IESO_DISPATCH_ON_OFF", True, "DISPATCH_STATE", "on"),
    ("MCN_MGC_IESO_DISPATCH_ON_OFF", False, "DISPATCH_STATE", "off"),
    ("MCN_MGC_DER_EXP_ON_OFF", True, "LIMIT_DER_EXPORT", "true"),
    ("MCN_MGC_DER_EXP_ON_OFF", False, "LIMIT_DER_EXPORT", "false"),
    ("MCN_MGC_BESS_ON_OFF", True, "DEVICE_POWER_STATE", "on"),
    ("MCN_MGC_BESS_ON_OFF", False, "DEVICE_POWER_STATE", "off"),
    ("MCN_MGC_CMS_HEARTBEAT", "ok", "HEARTBEAT_STATUS", "ok"),
    ("MCN_MGC_CMS_HEARTBEAT", "connection_lost", "HEARTBEAT_STATUS", "connection_lost"),
    ("MCN_MGC_CMS_HEARTBEAT", "timeout", "HEARTBEAT_STATUS", "timeout"),
    ("MCN_MGC_CMS_HEARTBEAT", "error", "HEARTBEAT_STATUS", "error"),
]

# DESIGN §2: (auto dispatch, manual charge, manual discharge) -> BESS_OPERATIONAL_MODE
TRUTH_TABLE = [
    ((False, False, False), "idle"),
    ((False, False, True), "discharging"),
    ((False, True, False), "charging"),
    ((True, False, False), "automatic"),
    ((False, True, True), "error"),
    ((True, False, True), "error"),
    ((True, True, False), "error"),
    ((True, True, True), "error"),
]
UNITS = {"AVAILABLE_CHARGING_CAPACITY": "W", "FAIL_SAFE_CAPACITY": "W", "SOC": "%"}


@pytest.mark.parametrize(("bba_key", "bba_value", "generic_key", "generic_value"), DESIGN_TABLE)
def test_each_row_of_the_translation_table(bba_key, bba_value, generic_key, generic_value):
    assert translate({bba_key: bba_value}) == [(generic_key, generic_value, UNITS.get(generic_key))]


@pytest.mark.parametrize(("flags", "mode"), TRUTH_TABLE)
def test_each_row_of_the_bess_truth_table(flags, mode):
    auto, charge, discharge = flags
    measurands = translate(
        {
            "MCN_MGC_BESS_AUTO_DISPATCH_ON_OFF": auto,
            "MCN_MGC_BESS_MAN_CHRG_ON_OFF": charge,
            "MCN_MGC_BESS_MAN_DISCHRG_ON_OFF": discharge,
        }
    )
    assert measurands == [("BESS_OPERATIONAL_MODE", mode, None)]


def test_peak_shaving_has_no_bba_source_and_is_never_inferred():
    everything = {
        "MCN_MGC_IESO_DISPATCH_ON_OFF": True,
        "MCN_MGC_DER_EXP_ON_OFF": True,
        "MCN_MGC_CMS_HEARTBEAT": "ok",
        "MCN_MGC_BESS_ON_OFF": True,
    }
    keys = [key for key, _v, _u in translate(everything)]
    assert "LIMIT_PEAK_SHAVING" not in keys


def test_unavailable_values_are_null_and_unreported_keys_absent():
    assert translate({"MCN_MGC_BESS_SOC": None}) == [("SOC", None, "%")]
    assert translate({}) == []


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_packet_keeps_the_generic_contract(name):
    scenario = load(name)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    allowed = {
        "mgc-1": {row[2] for row in DESIGN_TABLE} | {"BESS_OPERATIONAL_MODE"},
        "site-1": {"TOTAL_POWER_LOAD", "LIMIT_PEAK_SHAVING"},  # generic keys, no BBA source
    }
    for planned in plan(scenario, "5b0c0f5e-7a1a-4a53-8c55-1b2f0e9c4d11", start):
        parsed = parse_packet(planned.packet, start.replace(year=2027))
        assert isinstance(parsed, Packet), (planned.step.name, parsed)
        for sensor in planned.packet["sensors"]:
            assert {m["key"] for m in sensor["measurands"]} <= allowed[sensor["sensor_id"]]
        if not planned.step.resend:  # a re-sent packet keeps its original timestamp
            assert planned.packet["timestamp"] == int(planned.virtual_time.timestamp() * 1000)


def test_capacity_path_scenarios_report_both_required_keys_in_every_step():
    for name in presets():
        scenario = load(name)
        for planned in plan(scenario, "d", datetime(2026, 1, 1, tzinfo=UTC)):
            keys = {m["key"] for m in planned.packet["sensors"][0]["measurands"]}
            if "AVAILABLE_CHARGING_CAPACITY" in keys or "HEARTBEAT_STATUS" in keys:
                assert {"AVAILABLE_CHARGING_CAPACITY", "HEARTBEAT_STATUS"} <= keys, name
