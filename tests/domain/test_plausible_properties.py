"""The plausible-input value objects on generated hostile input: a typed field
error or a value within the rules, never an exception (DESIGN §2)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.packets import Packet, parse_packet
from domain.plausible.instants import (
    EARLIEST,
    MAX_FUTURE_SKEW,
    READ_CEILING,
    READ_FLOOR,
    check_epoch_ms,
    check_instant,
    readable_instant,
    readable_instant_text,
)
from domain.plausible.json_values import MAX_BYTES, MAX_DEPTH, check_json, readable_json
from domain.plausible.measurands import NUMBER_KEYS, STATUS_VALUES, check_unit, check_value
from domain.plausible.text import NAME, PROVIDER_EVENT_REF, SHORT, check_text, forbidden_character
from domain.problems import FieldError

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FEW = settings(max_examples=150, deadline=None)

hostile_text = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=30),
    st.sampled_from(["", " ", "\x00", "a\ud800", "\udfff", "\u2028", "\x7f", "x" * 201]),
)
floats = st.one_of(
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324]),
    st.integers(-(10**30), 10**30),
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
datetimes = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=offsets),
    st.sampled_from(
        [
            datetime.min,
            datetime.max,
            datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
            datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
        ]
    ),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), floats, hostile_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=30,
)


def _deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@FEW
@given(hostile_text, st.sampled_from([NAME, PROVIDER_EVENT_REF, SHORT]))
def test_text_is_refused_with_a_field_error_or_clean(value, rule):
    checked = check_text(value, "input.x", rule)
    if isinstance(checked, FieldError):
        assert checked.field == "input.x"
        return
    assert forbidden_character(checked) is None
    assert rule.min_length <= len(checked) <= rule.max_length
    checked.encode("utf-8")


@FEW
@given(datetimes)
def test_timestamps_in_the_window_or_a_field_error(value):
    checked = check_instant(value, NOW, "input.observedAt")
    if isinstance(checked, FieldError):
        assert checked.code in ("TIMEZONE_REQUIRED", "OUT_OF_RANGE", "IN_THE_FUTURE")
        return
    assert checked.tzinfo is UTC and EARLIEST <= checked <= NOW + MAX_FUTURE_SKEW


@FEW
@given(st.one_of(floats, st.booleans(), st.none(), hostile_text))
def test_epoch_milliseconds_in_the_window_or_a_field_error(value):
    checked = check_epoch_ms(value, NOW, "packet.timestamp")
    if not isinstance(checked, FieldError):
        at, _ms = checked
        assert EARLIEST <= at <= NOW + MAX_FUTURE_SKEW


@FEW
@given(datetimes, st.one_of(hostile_text, st.none(), floats))
def test_stored_timestamps_always_read_as_bounded_utc(value, text):
    for read in (readable_instant(value), readable_instant_text(text)):
        assert read.tzinfo is not None and READ_FLOOR <= read <= READ_CEILING
        read + timedelta(days=7)


@FEW
@given(st.sampled_from(sorted([*NUMBER_KEYS, *STATUS_VALUES, "X_VENDOR"])), json_values, floats)
def test_measurand_values_are_finite_and_in_range_or_refused(key, value, number):
    for candidate in (value, number):
        checked = check_value(key, candidate, "v")
        if isinstance(checked, float):
            assert math.isfinite(checked)
            if key in NUMBER_KEYS:
                assert NUMBER_KEYS[key].low <= checked <= NUMBER_KEYS[key].high
        unit = check_unit(key, candidate, "u")
        assert unit is None or isinstance(unit, FieldError)


@FEW
@given(json_values)
def test_json_is_refused_or_finite_clean_and_small(value):
    errors = check_json(value, "packet")
    if not errors:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
        assert len(encoded) <= MAX_BYTES
    readable = readable_json(value)
    json.dumps(readable, allow_nan=False, ensure_ascii=False).encode()


def test_nesting_beyond_the_limit_is_refused_without_recursion():
    assert not check_json(_deep(MAX_DEPTH - 1), "p")
    assert [e.code for e in check_json(_deep(MAX_DEPTH), "p")] == ["TOO_DEEP"]
    assert [e.code for e in check_json(_deep(100_000), "p")] == ["TOO_DEEP"]
    assert [e.code for e in check_json(["x" * MAX_BYTES], "p")] == ["TOO_LARGE"]


@FEW
@given(json_values)
def test_a_packet_is_parsed_within_the_rules_or_refused_with_field_paths(extra):
    packet = {
        "device_id": "7d3c5f0e-0000-4000-8000-000000000000",
        "timestamp": int(NOW.timestamp() * 1000),
        "manufacturer": None,
        "model": None,
        "serial_number": None,
        "sensors": [{"sensor_id": "s", "measurands": [{"key": "SOC", "value": 5, "unit": "%"}]}],
        "extra": extra,
    }
    parsed = parse_packet(packet, NOW)
    if isinstance(parsed, Packet):
        json.dumps(parsed.raw, allow_nan=False, ensure_ascii=False).encode()
    else:
        assert parsed and all(e.field.startswith("packet") for e in parsed)
