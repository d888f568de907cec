"""Scenario files: presets load, mistakes are reported with line and field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulator.packets import plan
from simulator.scenario import ScenarioError, load, parse, presets

EXPECTED_PRESETS = {
    "capacity-changes",
    "heartbeat-failsafe",
    "dispatch-state",
    "der-export",
    "soc-ramp",
    "bess-power",
    "bess-modes",
    "stale-gap",
    "resend",
    "day-in-the-life",
}


def test_the_presets_cover_the_issue_list():
    assert set(presets()) == EXPECTED_PRESETS
    modes = [s.expect.get("bess_mode") for s in load("bess-modes").steps]
    assert sorted(modes) == sorted(["IDLE", "DISCHARGING", "CHARGING", "AUTOMATIC"] + ["ERROR"] * 4)


def test_mistakes_are_reported_with_line_and_field():
    text = """name = "broken"
seed = "seven"

[initial]
MCN_MGC_CMS_HEARTBEAT = "fine"

[[steps]]
at = 10
set = { MCN_MGC_BESS_SOC = 140, NOT_A_KEY = 1 }

[[steps]]
at = 5
resend = "yes"
[steps.expect]
der = "MAYBE"
capacity = 5
"""
    with pytest.raises(ScenarioError) as raised:
        parse(text, "broken.toml")
    assert raised.value.problems == [
        "line 2: seed: must be an integer",
        "line 5: initial.MCN_MGC_CMS_HEARTBEAT: must be one of ok, connection_lost, timeout, error",
        "line 9: steps[0].set.MCN_MGC_BESS_SOC: must be between 0 and 100",
        "line 9: steps[0].set.NOT_A_KEY: not a BBA controller key or a site sensor key",
        "line 12: steps[1].at: steps must not go back in time (previous at = 10.0)",
        "line 13: steps[1].resend: must be true or false",
        "line 15: steps[1].expect.der: must be one of ON, OFF, UNKNOWN",
        "line 16: steps[1].expect.capacity: unknown expectation",
    ]


def test_invalid_toml_and_missing_files_are_scenario_errors():
    with pytest.raises(ScenarioError, match="not valid TOML"):
        parse("name = ", "x.toml")
    with pytest.raises(ScenarioError, match="no preset or file"):
        load("no-such-preset")


def test_a_resend_repeats_the_previous_packet_exactly():
    steps = list(plan(load("resend"), "d", datetime(2026, 1, 1, tzinfo=UTC)))
    assert steps[1].packet == steps[0].packet


def test_noise_is_seeded():
    scenario = load("soc-ramp")
    runs = [
        [p.packet for p in plan(scenario, "d", datetime(2026, 1, 1, tzinfo=UTC))] for _ in range(2)
    ]
    assert runs[0] == runs[1]
    noisy = runs[0][2]["sensors"][0]["measurands"]
    soc = next(m["value"] for m in noisy if m["key"] == "SOC")
    assert soc != 50.0 and abs(soc - 50.0) <= 0.5
