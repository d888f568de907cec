"""Generated scenarios ([generate]), the day-in-the-life preset and catching up
on a repeating day: all without a service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.packets import Packet, parse_packet
from simulator.packets import plan
from simulator.runner import SimulatorError, catch_up, sent
from simulator.scenario import ScenarioError, load, parse

DEVICE = "5b0c0f5e-7a1a-4a53-8c55-1b2f0e9c4d11"
DAY = datetime(2026, 3, 14, tzinfo=UTC)
SMALL = """name = "small"
seed = 3
[generate]
every = 60
duration = "0:10"
silent = [["0:04", "0:06"]]
[generate.curves.TOTAL_POWER_LOAD]
points = [["0:00", 1000], ["0:10", 2000]]
[generate.curves.MCN_MGC_CMS_AVAILABLE_PWR]
shape = "step"
points = [[0, 50000], ["0:03", 60000]]
[initial]
MCN_MGC_CMS_HEARTBEAT = "ok"

[[steps]]
at = "0:02:30"
name = "between the minutes"
set = { MCN_MGC_CMS_HEARTBEAT = "timeout", TOTAL_POWER_LOAD = 7 }
[[steps]]
at = 420
name = "on the minute"
set = { MCN_MGC_CMS_HEARTBEAT = "ok" }
"""


def values(planned) -> dict:
    return sent(planned.packet)["values"]


def test_a_generated_timeline_with_curves_silence_and_written_steps():
    scenario = load_text(SMALL)
    steps = list(plan(scenario, DEVICE, DAY))
    assert [s.step.at for s in steps] == [0, 60, 120, 150, 180, 360, 420, 480, 540]
    assert [s.step.name for s in steps][:4] == ["0:00", "0:01", "0:02", "between the minutes"]
    assert steps[6].step.name == "on the minute"
    assert scenario.period_seconds == 600
    loads = [values(s)["TOTAL_POWER_LOAD"] for s in steps]
    assert loads == [1000, 1100, 1200, 7, 1300, 1600, 1700, 1800, 1900], "linear; own set wins"
    capacity = [values(s)["AVAILABLE_CHARGING_CAPACITY"] for s in steps]
    assert capacity == [50000, 50000, 50000, 50000, 60000, 60000, 60000, 60000, 60000], "step"
    heartbeats = [values(s)["HEARTBEAT_STATUS"] for s in steps]
    assert heartbeats == ["ok"] * 3 + ["timeout"] * 3 + ["ok"] * 3, "a written set persists"


def test_every_replaces_the_generated_interval_and_keeps_written_steps():
    scenario = parse(SMALL, "small.toml", every=300)
    assert [s.at for s in scenario.steps] == [0, 150, 420]
    with pytest.raises(ScenarioError, match="--every needs a \\[generate\\] section"):
        parse('name = "x"\n[[steps]]\nat = 0\n', "x.toml", every=60)


def test_generate_mistakes_are_reported_with_line_and_field():
    text = """name = "broken"
[generate]
every = 0
duration = "25:99"
silent = [["0:10", "0:05"]]
colour = "blue"
[generate.curves.MCN_MGC_BESS_SOC]
points = [["0:00", 50], ["0:00", 60], ["0:30", 140]]
shape = "smooth"
[generate.curves.MCN_MGC_CMS_HEARTBEAT]
points = [[0, 1]]
[[steps]]
at = "soon"
"""
    with pytest.raises(ScenarioError) as raised:
        parse(text, "broken.toml")
    assert raised.value.problems == [
        "line 6: generate.colour: unknown field",
        "line 3: generate.every: required: seconds between steps, a number >= 1",
        'line 4: generate.duration: required: seconds or "H:MM", > 0',
        "line 9: generate.curves.MCN_MGC_BESS_SOC.shape: must be one of linear, step",
        "line 8: generate.curves.MCN_MGC_BESS_SOC.points: point 2: times must increase",
        "line 8: generate.curves.MCN_MGC_BESS_SOC.points: "
        "point 3: [time, value] with a time from 0 to the duration",
        "line 10: generate.curves.MCN_MGC_CMS_HEARTBEAT: not a numeric key "
        "(MCN_MGC_CMS_AVAILABLE_PWR, MCN_MGC_CMS_FAILSAFE_PWR, MCN_MGC_BESS_SOC, "
        "TOTAL_POWER_LOAD)",
        "line 5: generate.silent: span 1: from < to <= the duration",
        'line 13: steps[0].at: required: seconds after the start (>= 0) or "H:MM"',
    ]


def test_curve_values_are_checked_like_any_value_of_their_key():
    text = """name = "x"
[generate]
every = 60
duration = 600
[generate.curves.MCN_MGC_BESS_SOC]
points = [[0, 40], [300, 101]]
"""
    with pytest.raises(ScenarioError, match=r"MCN_MGC_BESS_SOC\.points: must be between 0 and 100"):
        parse(text, "x.toml")


def load_text(text: str):
    return parse(text, "small.toml")


# --- day-in-the-life -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def day():
    scenario = load("day-in-the-life")
    return scenario, list(plan(scenario, DEVICE, DAY))


def at(day_steps, clock: str):
    hours, minutes = (int(x) for x in clock.split(":"))
    wanted = DAY + timedelta(hours=hours, minutes=minutes)
    return next(s for s in day_steps if s.virtual_time == wanted)


def test_the_day_is_24_hours_of_a_step_a_minute_with_one_silent_gap(day):
    scenario, steps = day
    assert scenario.period_seconds == 24 * 3600
    gaps = [(b.virtual_time - a.virtual_time).total_seconds() for a, b in pairwise(steps)]
    assert set(gaps) == {60.0, 26 * 60.0}, "a minute apart, except one gap"
    # 26 min without a packet: longer than the demo binding's stale_after (the 300 s default)
    assert len(steps) == 24 * 60 - 25


def test_every_packet_is_a_valid_generic_packet(day):
    _scenario, steps = day
    for planned in steps:
        assert isinstance(parse_packet(planned.packet, DAY + timedelta(days=2)), Packet)


def test_the_day_has_charging_peaks_a_battery_cycle_and_the_toggles(day):
    _scenario, steps = day
    load_w = {c: values(at(steps, c))["TOTAL_POWER_LOAD"] for c in ("1:00", "10:00", "20:30")}
    assert load_w["1:00"] > 250_000 and load_w["20:30"] > 300_000 > 100_000 > load_w["10:00"]
    soc = {c: values(at(steps, c))["SOC"] for c in ("0:00", "6:00", "19:00")}
    assert soc["6:00"] > 90 > soc["0:00"] > 50 > 25 > soc["19:00"], "up by night, down by day"
    der = {c: values(at(steps, c))["LIMIT_DER_EXPORT"] for c in ("9:59", "10:00", "15:00")}
    assert der == {"9:59": "false", "10:00": "true", "15:00": "false"}
    shaving = {c: values(at(steps, c))["LIMIT_PEAK_SHAVING"] for c in ("15:59", "16:00", "19:00")}
    assert shaving == {"15:59": "false", "16:00": "true", "19:00": "false"}


def test_a_40_minute_heartbeat_loss_reports_the_fail_safe_capacity(day):
    _scenario, steps = day
    lost = [s for s in steps if values(s)["HEARTBEAT_STATUS"] != "ok"]
    assert (lost[0].virtual_time - DAY, lost[-1].virtual_time - DAY) == (
        timedelta(hours=12, minutes=20),
        timedelta(hours=12, minutes=59),
    )
    assert len(lost) == 40
    assert {values(s)["FAIL_SAFE_CAPACITY"] for s in lost} == {120000.0}
    assert all("AVAILABLE_CHARGING_CAPACITY" in values(s) for s in steps), "required key"


def test_the_day_is_deterministic_and_noise_stays_in_range(day):
    scenario, steps = day
    again = list(plan(load("day-in-the-life"), DEVICE, DAY))
    assert [s.packet for s in again] == [s.packet for s in steps]
    assert all(0 <= values(s)["SOC"] <= 100 for s in steps)


# --- catching up ---------------------------------------------------------------------------


def test_catching_up_plays_the_last_day_once_and_then_only_the_missing_tail(day):
    scenario, _steps = day
    now = DAY + timedelta(days=1, hours=9, minutes=30, seconds=20)
    first = list(catch_up(scenario, DEVICE, now, None))
    assert now - timedelta(days=1) < first[0].virtual_time <= now
    assert first[-1].virtual_time == now.replace(second=0)
    assert len(first) == 24 * 60 - 25
    later = now + timedelta(minutes=10)
    tail = list(catch_up(scenario, DEVICE, later, first[-1].virtual_time))
    assert [s.virtual_time for s in tail] == [
        first[-1].virtual_time + timedelta(minutes=m) for m in range(1, 11)
    ]
    assert list(catch_up(scenario, DEVICE, later, tail[-1].virtual_time)) == []


def test_caught_up_packets_follow_the_utc_day_whatever_the_window(day):
    scenario, steps = day
    by_time = {s.virtual_time: s.packet for s in steps}
    now = DAY + timedelta(hours=23, minutes=59, seconds=59)
    windows = [list(catch_up(scenario, DEVICE, now, now - timedelta(hours=h))) for h in (1, 7, 30)]
    for window in windows:
        assert all(by_time[s.virtual_time] == s.packet for s in window), "same packet, same time"
    assert len(windows[2]) == len(steps), "at most one period"


def test_catching_up_needs_a_repeating_scenario():
    with pytest.raises(SimulatorError, match="does not repeat"):
        list(catch_up(load("der-export"), DEVICE, DAY, None))


# --- hostile scenario files ----------------------------------------------------------------

_times = st.one_of(
    st.integers(-100, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["0:00", "1:30", "24:00", "99:59:59", "7", "", "1:60", "-1:00"]),
    st.booleans(),
)
_numbers = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="0123456789:.-ab", max_size=5),
)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if value != value
            else ("inf" if value > 0 else "-inf")
            if abs(value) == float("inf")
            else repr(value)
        )
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    every=_numbers,
    duration=_times,
    key=st.sampled_from(["TOTAL_POWER_LOAD", "MCN_MGC_BESS_SOC", "MCN_MGC_CMS_HEARTBEAT", "X"]),
    points=st.lists(st.tuples(_times, _numbers), max_size=4),
    silent=st.lists(st.tuples(_times, _times), max_size=2),
    shape=st.sampled_from(["linear", "step", "cubic"]),
)
def test_any_generate_section_is_a_scenario_or_a_scenario_error(
    every, duration, key, points, silent, shape
):
    text = (
        f'name = "h"\n[generate]\nevery = {_toml(every)}\nduration = {_toml(duration)}\n'
        f"silent = [{', '.join(f'[{_toml(a)}, {_toml(b)}]' for a, b in silent)}]\n"
        f"[generate.curves.{key}]\nshape = {_toml(shape)}\n"
        f"points = [{', '.join(f'[{_toml(t)}, {_toml(v)}]' for t, v in points)}]\n"
    )
    try:
        scenario = parse(text, "h.toml")
    except ScenarioError as error:
        assert error.problems and all(p.startswith("line ") for p in error.problems)
        return
    for planned in list(plan(scenario, DEVICE, DAY))[:50]:
        assert isinstance(parse_packet(planned.packet, DAY + timedelta(days=60)), Packet)
