"""The chart's overlays (domain/chart_intervals.py): hand-computed cases, and
properties against the card's own rules (``capability.view`` of ``latest_of``,
``capacity.effective_capacity``) at generated instants."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.capability import (
    CapabilityType,
    Freshness,
    Observation,
    OperationalStatus,
    StatusEvent,
    latest_of,
    view,
)
from domain.capacity import CapacitySource, effective_capacity
from domain.chart_intervals import (
    CapabilityInterval,
    CapacitySourceInterval,
    StatusRun,
    capability_intervals,
    capacity_runs,
    capacity_source_intervals,
    status_runs,
)
from domain.model import Circuit
from domain.readings import CapacityReport, CapacityRun
from tests.support.fakes import FakeEvents, FakeReadings, Store

PS, DER = CapabilityType.PEAK_SHAVING, CapabilityType.DER
ON, OFF, UNKNOWN = OperationalStatus.ON, OperationalStatus.OFF, OperationalStatus.UNKNOWN
FRESH, STALE, NEVER = Freshness.FRESH, Freshness.STALE, Freshness.NEVER_REPORTED
AVAILABLE = CapacitySource.CONTROLLER_AVAILABLE
FAIL_SAFE = CapacitySource.CONTROLLER_FAIL_SAFE
CONFIGURED = CapacitySource.CONFIGURED_SAFE
T0 = datetime(2026, 3, 1, tzinfo=UTC)
MICROGRID = UUID(int=1)
DEPOT = UUID(int=2)
STALE_AFTER = {PS: 100, DER: 100}
FEW = settings(max_examples=300, deadline=None)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(value: bool, observed: float, sequence: int, capability=DER) -> StatusEvent:
    return StatusEvent(
        id=uuid4(),
        observation=Observation(MICROGRID, capability, value, at(observed), f"r{sequence}"),
        received_at=at(observed),
        sequence=sequence,
        applied_to_latest=True,
    )


def der(*spans: tuple[OperationalStatus, Freshness, float, float | None]) -> list:
    return [
        CapabilityInterval(DER, s, f, at(lo), None if hi is None else at(hi))
        for s, f, lo, hi in spans
    ]


def never(capability=PS, lo: float = 0, hi: float | None = None) -> list:
    return [CapabilityInterval(capability, UNKNOWN, NEVER, at(lo), None if hi is None else at(hi))]


def chart(events, start=0.0, end=1000.0, now=1000.0, stale_after=None):
    stale_after = stale_after or STALE_AFTER
    runs = status_runs(events, stale_after)
    return capability_intervals(runs, stale_after, at(start), at(end), at(now))


# -- capability intervals, by hand --------------------------------------------------------


def test_never_reported_is_unknown_for_the_whole_range_and_open_at_now():
    assert chart([]) == never(PS) + never(DER)


def test_one_event_is_fresh_for_its_stale_after_then_stale_with_the_same_status():
    assert chart([event(True, 10, 1)]) == never(PS) + der(
        (UNKNOWN, NEVER, 0, 10), (ON, FRESH, 10, 110), (ON, STALE, 110, None)
    )


def test_a_late_event_observed_before_the_latest_takes_its_observed_place_only():
    # OFF@50 arrives after ON@100 (higher sequence): the card keeps ON; the chart
    # shows OFF in [50, 100) and ON from 100, never OFF after 100.
    events = [event(True, 100, 1), event(False, 50, 2)]
    assert chart(events) == never(PS) + der(
        (UNKNOWN, NEVER, 0, 50),
        (OFF, FRESH, 50, 100),
        (ON, FRESH, 100, 200),
        (ON, STALE, 200, None),
    )


def test_a_late_event_observed_between_two_others_splits_their_span():
    events = [event(True, 0, 1), event(True, 200, 2), event(False, 120, 3)]
    found = chart(events, stale_after={PS: 100, DER: 150})
    assert found == never(PS) + der(
        (ON, FRESH, 0, 120), (OFF, FRESH, 120, 200), (ON, FRESH, 200, 350), (ON, STALE, 350, None)
    )


def test_equal_observed_at_goes_to_the_higher_sequence_whatever_the_arrival_order():
    for events in (
        [event(True, 50, 1), event(False, 50, 2)],
        [event(False, 50, 2), event(True, 50, 1)],
    ):
        assert chart(events, end=120, now=120) == never(PS, hi=None) + der(
            (UNKNOWN, NEVER, 0, 50), (OFF, FRESH, 50, None)
        )


def test_a_stale_gap_between_reports_of_one_status_then_fresh_again():
    events = [event(True, 0, 1), event(True, 50, 2), event(True, 300, 3)]
    assert chart(events) == never(PS) + der(
        (ON, FRESH, 0, 150), (ON, STALE, 150, 300), (ON, FRESH, 300, 400), (ON, STALE, 400, None)
    )


def test_a_report_exactly_at_stale_time_leaves_no_stale_span():
    events = [event(True, 0, 1), event(True, 100, 2)]
    assert chart(events, end=150, now=150) == never(PS) + der((ON, FRESH, 0, None))


def test_a_range_ending_before_now_is_clipped_at_both_ends_and_closed():
    events = [event(True, 0, 1), event(False, 150, 2), event(True, 400, 3)]
    assert chart(events, start=120, end=260, now=5000) == never(PS, 120, 260) + der(
        (ON, STALE, 120, 150), (OFF, FRESH, 150, 250), (OFF, STALE, 250, 260)
    )


def test_the_state_at_start_comes_from_the_latest_event_before_it():
    assert chart([event(False, -30, 1)], start=0, end=100, now=100) == never(PS) + der(
        (OFF, FRESH, 0, 70), (OFF, STALE, 70, None)
    )


def test_a_range_reaching_past_now_ends_at_now_open():
    events = [event(True, 0, 1)]
    assert chart(events, end=2000, now=60) == never(PS) + der((ON, FRESH, 0, None))


def test_an_event_observed_after_now_is_beyond_the_right_edge():
    events = [event(True, 0, 1), event(False, 90, 2)]
    assert chart(events, end=200, now=60) == never(PS) + der((ON, FRESH, 0, None))


def test_an_empty_or_inverted_range_has_no_spans():
    assert chart([event(True, 0, 1)], start=100, end=100, now=500) == []
    assert chart([event(True, 0, 1)], start=600, end=900, now=500) == []


def test_each_capability_has_its_own_stale_after():
    events = [event(True, 0, 1, PS), event(True, 0, 2, DER)]
    assert chart(events, end=100, now=100, stale_after={PS: 30, DER: 60}) == [
        CapabilityInterval(PS, ON, FRESH, at(0), at(30)),
        CapabilityInterval(PS, ON, STALE, at(30), None),
        *der((ON, FRESH, 0, 60), (ON, STALE, 60, None)),
    ]


def test_runs_join_events_of_one_status_each_before_the_previous_went_stale():
    events = [
        event(True, 0, 1),
        event(True, 80, 2),
        event(True, 160, 3),  # 160 s after the run began: still one run
        event(True, 260, 4),  # the previous went stale at 260: a new run
        event(False, 270, 5),
        event(True, 40, 6, PS),
    ]
    e = {x.sequence: x for x in events}
    assert status_runs(events, STALE_AFTER) == [
        StatusRun(e[1], e[3]),
        StatusRun(e[4], e[4]),
        StatusRun(e[5], e[5]),
        StatusRun(e[6], e[6]),
    ]
    assert chart(events) == [
        CapabilityInterval(PS, UNKNOWN, NEVER, at(0), at(40)),
        CapabilityInterval(PS, ON, FRESH, at(40), at(140)),
        CapabilityInterval(PS, ON, STALE, at(140), None),
        *der((ON, FRESH, 0, 270), (OFF, FRESH, 270, 370), (OFF, STALE, 370, None)),
    ]


# -- capacity-source intervals, by hand ---------------------------------------------------


def circuit(safe: float | None = None) -> Circuit:
    return Circuit(uuid4(), DEPOT, "C", None, 0, T0, safe_capacity_w=safe)


def report(c: Circuit, observed: float, heartbeat="ok", available=1000.0, fail_safe=None):
    return CapacityReport(DEPOT, c.id, at(observed), available, fail_safe, heartbeat)


def sources(c: Circuit, *spans: tuple[CapacitySource, float, float | None]) -> list:
    return [
        CapacitySourceInterval(c.id, s, at(lo), None if hi is None else at(hi))
        for s, lo, hi in spans
    ]


def capacity(reports, circuits, start=0.0, end=1000.0, now=1000.0, stale_after=300):
    runs = capacity_runs(reports, stale_after)
    return capacity_source_intervals(runs, circuits, at(start), at(end), at(now), stale_after)


def test_heartbeat_loss_with_a_fail_safe_value_then_automatic_recovery():
    c = circuit(safe=200)
    reports = [
        report(c, 0, fail_safe=500),
        report(c, 100, "connection_lost", fail_safe=500),
        report(c, 200, fail_safe=500),
    ]
    assert capacity(reports, [c], end=400, now=400) == sources(
        c, (AVAILABLE, 0, 100), (FAIL_SAFE, 100, 200), (AVAILABLE, 200, None)
    )


def test_heartbeat_loss_without_fail_safe_falls_to_the_configured_safe_capacity():
    c = circuit(safe=200)
    reports = [report(c, 0), report(c, 100, "timeout"), report(c, 200)]
    assert capacity(reports, [c], end=400, now=400) == sources(
        c, (AVAILABLE, 0, 100), (CONFIGURED, 100, 200), (AVAILABLE, 200, None)
    )


def test_heartbeat_loss_with_nothing_configured_is_a_gap():
    c = circuit()
    reports = [report(c, 0), report(c, 100, "error"), report(c, 200)]
    assert capacity(reports, [c], end=400, now=400) == sources(
        c, (AVAILABLE, 0, 100), (AVAILABLE, 200, None)
    )


def test_a_report_goes_stale_without_a_new_report():
    c = circuit(safe=200)
    with_fail_safe = circuit()
    reports = [report(c, 10), report(with_fail_safe, 10, fail_safe=50)]
    assert capacity(reports, [c, with_fail_safe], end=500, now=500, stale_after=60) == [
        *sources(c, (CONFIGURED, 0, 10), (AVAILABLE, 10, 70), (CONFIGURED, 70, None)),
        *sources(with_fail_safe, (AVAILABLE, 10, 70), (FAIL_SAFE, 70, None)),
    ]


def test_unknown_available_capacity_with_ok_heartbeat_is_not_the_controllers():
    c = circuit(safe=200)
    assert capacity([report(c, 0, available=None, fail_safe=40)], [c]) == sources(
        c, (FAIL_SAFE, 0, None)
    )


def test_circuits_without_reports_are_configured_safe_for_the_whole_range_if_configured():
    configured, bare = circuit(safe=300), circuit()
    assert capacity([], [configured, bare], start=100, end=200, now=900) == sources(
        configured, (CONFIGURED, 100, 200)
    )


def test_capacity_spans_are_clipped_to_the_range_and_reports_of_other_circuits_ignored():
    c, gone = circuit(safe=1), circuit()
    reports = [report(c, 0), report(gone, 5), report(c, 250, "timeout")]
    assert capacity(reports, [c], start=100, end=300, now=900, stale_after=120) == sources(
        c, (AVAILABLE, 100, 120), (CONFIGURED, 120, 300)
    )


def test_equal_report_times_go_to_the_later_report():
    c = circuit(safe=1)
    reports = [report(c, 0), report(c, 0, "timeout")]
    assert capacity(reports, [c], end=50, now=50) == sources(c, (CONFIGURED, 0, None))


def test_capacity_runs_join_reports_of_one_source_class_and_only_available_goes_stale():
    c = circuit(safe=1)
    reports = [
        report(c, 0),
        report(c, 200, available=5.0, fail_safe=7.0),  # one class: the same run
        report(c, 500),  # the previous went stale at 500: a new run
        report(c, 510, "timeout", fail_safe=7.0),
        report(c, 9000, "timeout", fail_safe=8.0),  # fail-safe never goes stale
        report(c, 9000, "ok", available=None),  # configured safe, tie: written later
    ]
    assert capacity_runs(reports, 300) == [
        CapacityRun(reports[0], reports[1]),
        CapacityRun(reports[2], reports[2]),
        CapacityRun(reports[3], reports[4]),
        CapacityRun(reports[5], reports[5]),
    ]
    assert capacity(reports, [c], end=10_000, now=10_000) == sources(
        c, (AVAILABLE, 0, 510), (FAIL_SAFE, 510, 9000), (CONFIGURED, 9000, None)
    )


# -- properties against the card's rules --------------------------------------------------

offsets = st.integers(-400, 1200).map(lambda s: s * 0.25)


@st.composite
def streams(draw: st.DrawFn) -> list[StatusEvent]:
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(list(CapabilityType)), st.booleans(), offsets), max_size=40
        )
    )
    order = draw(st.permutations(range(len(rows))))
    return [event(v, o, order[i] + 1, c) for i, (c, v, o) in enumerate(rows)]


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime, datetime, list[datetime]]:
    start, end, now = (at(draw(offsets)) for _ in range(3))
    horizon = min(end, now)
    probes = []
    if start < horizon:
        width = int((horizon - start) / timedelta(milliseconds=1))
        probes = [
            start + timedelta(milliseconds=draw(st.integers(0, width - 1))) for _ in range(20)
        ]
        probes += [start, horizon - timedelta(microseconds=1)]
    return start, end, now, probes


stale_afters = st.fixed_dictionaries({c: st.integers(1, 400) for c in CapabilityType})


def _covering(spans: list, key, t: datetime):
    found = [s for s in spans if key(s) and s.start <= t and (s.end is None or t < s.end)]
    assert len(found) <= 1, found
    return found[0] if found else None


def _well_formed(spans: list, group, start, end, now) -> None:
    """Per group: in order, non-overlapping, no empty span, no two equal
    neighbours touching, the last open exactly when it reaches ``now``."""
    horizon = min(end, now)
    for key in {group(s) for s in spans}:
        mine = [s for s in spans if group(s) == key]
        for a, b in pairwise(mine):
            assert a.end is not None and a.start < a.end <= b.start
            if a.end == b.start:
                assert replace(a, start=b.start, end=b.end) != b, (a, b)
        assert all(s.end is not None for s in mine[:-1])
        last = mine[-1]
        assert start <= mine[0].start
        assert (last.end is None) == (end >= now and last.end in (None, horizon))
        assert last.end is None or last.end <= horizon


@FEW
@given(streams(), stale_afters, ranges())
def test_capability_intervals_agree_with_the_card_at_every_instant(events, stale_after, window):
    start, end, now, probes = window
    spans = capability_intervals(status_runs(events, stale_after), stale_after, start, end, now)
    _well_formed(spans, lambda s: s.capability, start, end, now)
    for capability in CapabilityType:
        mine = [s for s in spans if s.capability is capability]
        if probes:
            assert mine[0].start == start, "the whole range is covered"
        for a, b in pairwise(mine):
            assert a.end == b.start, "no holes"
        for t in probes:
            seen = [e for e in events if e.observation.observed_at <= t]
            card = view(capability, latest_of(seen).get(capability), t, stale_after[capability])
            span = _covering(mine, lambda s: True, t)
            assert span is not None, t
            assert (span.status, span.freshness) == (card.status, card.freshness), t


@FEW
@given(streams(), stale_afters, ranges())
def test_the_stores_status_changes_give_the_same_chart_as_all_events(events, stale_after, window):
    start, end, now, _ = window
    fake = FakeEvents(Store(events={MICROGRID: sorted(events, key=lambda e: e.sequence)}))
    changes = asyncio.run(fake.status_changes(MICROGRID, start, end, stale_after))
    assert {e for r in changes for e in (r.first, r.last)} <= set(events)
    everything = status_runs(events, stale_after)
    assert capability_intervals(changes, stale_after, start, end, now) == capability_intervals(
        everything, stale_after, start, end, now
    )


heartbeats = st.sampled_from(["ok", "ok", "timeout", "connection_lost", None])
watts = st.one_of(st.none(), st.floats(0, 1e6))


@st.composite
def reports_for(draw: st.DrawFn) -> tuple[list[Circuit], list[CapacityReport]]:
    circuits = [circuit(draw(watts)) for _ in range(draw(st.integers(1, 3)))]
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(circuits), offsets, heartbeats, watts, watts), max_size=30
        )
    )
    reports = [
        CapacityReport(DEPOT, c.id, at(o), available, fail_safe, hb)
        for c, o, hb, available, fail_safe in rows
    ]
    return circuits, sorted(reports, key=lambda r: r.observed_at)


@FEW
@given(reports_for(), st.integers(1, 400), ranges())
def test_capacity_source_intervals_agree_with_effective_capacity_at_every_instant(
    world, stale_after, window
):
    circuits, reports = world
    start, end, now, probes = window
    runs = capacity_runs(reports, stale_after)
    spans = capacity_source_intervals(runs, circuits, start, end, now, stale_after)
    _well_formed(spans, lambda s: s.circuit_id, start, end, now)
    for c in circuits:
        for t in probes:
            seen = [(r.observed_at, i, r) for i, r in enumerate(reports) if r.circuit_id == c.id]
            seen = [x for x in seen if x[0] <= t]
            held = c
            if seen:
                r = max(seen, key=lambda x: x[:2])[2]
                held = replace(
                    c,
                    available_capacity_w=r.available_w,
                    fail_safe_capacity_w=r.fail_safe_w,
                    heartbeat_status=r.heartbeat,
                    capacity_observed_at=r.observed_at,
                )
            expected = effective_capacity(held, t, stale_after).source
            span = _covering(spans, lambda s, c=c: s.circuit_id == c.id, t)
            assert (span.source if span else None) == expected, t


@FEW
@given(reports_for(), st.integers(1, 400), ranges())
def test_runs_give_the_same_capacity_chart_as_every_report(world, stale_after, window):
    circuits, reports = world
    start, end, now, _ = window
    every = [CapacityRun(r, r) for r in reports]
    runs = capacity_runs(reports, stale_after)
    assert len(runs) <= len(reports)
    assert capacity_source_intervals(
        runs, circuits, start, end, now, stale_after
    ) == capacity_source_intervals(every, circuits, start, end, now, stale_after)


@FEW
@given(reports_for(), st.integers(1, 400), ranges())
def test_the_stores_capacity_runs_give_the_same_chart_as_every_report(world, stale_after, window):
    circuits, reports = world
    start, end, now, _ = window
    fake = FakeReadings(Store(capacity_reports=list(reports)))
    runs = asyncio.run(fake.capacity_runs(DEPOT, start, end, stale_after))
    assert {r for run in runs for r in (run.first, run.last)} <= set(reports)
    every = [CapacityRun(r, r) for r in reports]
    assert capacity_source_intervals(
        runs, circuits, start, end, now, stale_after
    ) == capacity_source_intervals(every, circuits, start, end, now, stale_after)
