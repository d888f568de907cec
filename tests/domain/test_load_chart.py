"""The loadChart use case with in-memory fakes: validation, scope, bucketing,
series shape and the overlays' inputs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import chart_intervals
from domain.access import EVERYWHERE, Scope
from domain.bindings import create_binding
from domain.capability import CapabilityType
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewDevice, NewPowerSource, create_device, create_power_source
from domain.load_chart import (
    MAX_POINTS,
    MIN_POINTS,
    WIDTHS,
    LoadChart,
    bucket_count,
    bucket_seconds,
    check_range,
    load_chart,
)
from domain.model import PowerSourceKind
from domain.problems import NotFound, ValidationFailed
from domain.readings import CapacityReport, CapacityRun, Reading, ReadingKind
from tests.support.clock import FakeClock
from tests.support.fakes import Store, fake_dependencies

K = ReadingKind
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
FEW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Site:
    """A depot with two feeders (a microgrid) and two power sources."""

    async def build(self, *, top_level: bool = True) -> Site:
        self.store, self.clock = Store(), FakeClock(T0 + timedelta(days=40), tick=timedelta(0))
        self.deps = fake_dependencies(self.store, self.clock, stale_after_seconds=300)
        feeders = [NewCircuit("Feeder B"), NewCircuit("Feeder A")] if top_level else []
        created = await create_depot(self.deps, EVERYWHERE, "Depot", feeders)
        assert not isinstance(created, ValidationFailed)
        self.depot_id = created.depot.id
        self.microgrid = created.sync.microgrid
        self.circuits = {c.name: c for c in self.store.circuits.values()}
        self.sources = {}
        for name, kind in (("Battery", PowerSourceKind.BATTERY), ("Array", PowerSourceKind.SOLAR)):
            made = await create_power_source(
                self.deps, EVERYWHERE, NewPowerSource(self.depot_id, kind, name)
            )
            assert not isinstance(made, NotFound | ValidationFailed)
            self.sources[name] = made
        return self

    def read(self, subject: UUID, kind: ReadingKind, at: datetime, value: float) -> None:
        self.store.readings.append(Reading(self.depot_id, subject, kind, at, value))

    async def chart(
        self,
        start: datetime = T0,
        end: datetime = T0 + HOUR,
        max_points: int = 12,
        scope: Scope = EVERYWHERE,
        depot_id: UUID | None = None,
    ) -> LoadChart | NotFound | ValidationFailed:
        return await load_chart(self.deps, scope, depot_id or self.depot_id, start, end, max_points)


@pytest.fixture
async def site() -> Site:
    return await Site().build()


def _codes(result: object) -> set[tuple[str, str]]:
    assert isinstance(result, ValidationFailed), result
    return {(e.field, e.code) for e in result.field_errors}


# --- bucket width -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "span", "points", "width"),
    [
        (T0, timedelta(days=7), 1000, 900),
        (T0, timedelta(days=1), 1000, 120),
        (T0, HOUR, 1000, 5),
        (T0, HOUR, 3600, 1),
        (T0, HOUR, 12, 300),
        (T0, HOUR, 10, 900),
        (T0 + timedelta(seconds=100), HOUR, 12, 900),
        (T0 + timedelta(seconds=100), HOUR, 13, 300),
        (T0, timedelta(seconds=1), 10, 1),
        (T0, timedelta(microseconds=1), 10, 1),
        (T0, timedelta(days=31), 10, 4 * 86_400),
        (T0 + timedelta(days=3), timedelta(days=31), 10, 4 * 86_400),
    ],
)
def test_bucket_width_is_the_narrowest_clock_width_whose_grid_fits(start, span, points, width):
    assert bucket_seconds(start, start + span, points) == width


@FEW
@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(9990, 1, 1), timezones=st.just(UTC)
    ),
    span=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=31)),
    points=st.integers(MIN_POINTS, MAX_POINTS),
)
def test_no_series_exceeds_max_points_and_the_next_narrower_width_would(start, span, points):
    width = bucket_seconds(start, start + span, points)
    assert width in WIDTHS or width % 86_400 == 0
    narrower = [w for w in (*WIDTHS, *range(2 * 86_400, width, 86_400)) if w < width]
    if narrower:
        assert bucket_count(start, start + span, narrower[-1]) > points
    chart_range = check_range(start, start + span, points)
    assert not isinstance(chart_range, ValidationFailed)
    assert chart_range.buckets <= points
    starts = [chart_range.bucket_start(i) for i in range(chart_range.buckets)]
    assert starts[0] == start and starts[-1] < start + span
    assert all(b - a <= timedelta(seconds=width) for a, b in itertools.pairwise(starts))
    assert all(b.timestamp() % width == 0 for b in starts[1:]), "on the clock's grid"


# --- validation ---------------------------------------------------------------


async def test_to_must_be_after_from(site):
    assert _codes(await site.chart(T0, T0)) == {("to", "NOT_AFTER_FROM")}
    assert _codes(await site.chart(T0, T0 - HOUR)) == {("to", "NOT_AFTER_FROM")}


async def test_the_range_spans_at_most_31_days(site):
    assert isinstance(await site.chart(T0, T0 + timedelta(days=31)), LoadChart)
    too_long = T0 + timedelta(days=31, microseconds=1)
    assert _codes(await site.chart(T0, too_long)) == {("to", "RANGE_TOO_LONG")}


@pytest.mark.parametrize(("points", "ok"), [(9, False), (10, True), (5000, True), (5001, False)])
async def test_max_points_edges(site, points, ok):
    result = await site.chart(max_points=points)
    if ok:
        assert isinstance(result, LoadChart)
    else:
        assert _codes(result) == {("maxPoints", "OUT_OF_RANGE")}


async def test_every_field_error_at_once(site):
    naive = datetime(2026, 1, 1)
    result = await site.chart(naive, naive, max_points=-(2**63))
    assert _codes(result) == {
        ("from", "TIMEZONE_REQUIRED"),
        ("to", "TIMEZONE_REQUIRED"),
        ("maxPoints", "OUT_OF_RANGE"),
    }


CALENDAR_ENDS = [
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
    datetime.min.replace(tzinfo=timezone(timedelta(hours=14))),
    datetime.max.replace(tzinfo=timezone(timedelta(hours=-14))),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(9998, 12, 31, tzinfo=UTC),
    datetime(9999, 1, 1, tzinfo=UTC),
    datetime(9999, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
]
instants = st.one_of(
    st.sampled_from(CALENDAR_ENDS),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-14))])),
    st.datetimes(timezones=st.none()),
)
worst_points = st.one_of(
    st.sampled_from([0, 9, 10, 5000, 5001, -1, 2**31 - 1, -(2**31), 2**63, 10**100]),
    st.integers(),
)


@FEW
@given(start=instants, end=instants, points=worst_points)
async def test_hostile_ranges_are_a_chart_or_field_errors_never_an_exception(start, end, points):
    site = await Site().build()
    result = await site.chart(start, end, points)
    if isinstance(result, ValidationFailed):
        assert result.field_errors
        assert {e.field for e in result.field_errors} <= {"from", "to", "maxPoints"}
        return
    assert isinstance(result, LoadChart)
    assert MIN_POINTS <= points <= MAX_POINTS
    assert timedelta(0) < end - start <= timedelta(days=31)
    assert result.start == start and result.end == end
    assert all(len(s.points) <= points for s in result.series)
    assert result.series[0].points[-1].at < end


async def test_a_chart_at_the_far_end_of_the_calendar(site):
    end = datetime(9999, 1, 1, tzinfo=UTC)
    result = await site.chart(end - timedelta(days=31), end, MAX_POINTS)
    assert isinstance(result, LoadChart)
    assert result.bucket_seconds == 900
    assert len(result.series[0].points) == 2976


# --- scope --------------------------------------------------------------------


async def test_a_depot_outside_the_scope_answers_like_a_missing_one(site):
    elsewhere = Scope.only(uuid4())
    hidden = await site.chart(scope=elsewhere)
    missing = await site.chart(depot_id=(unknown := uuid4()))
    assert isinstance(hidden, NotFound) and isinstance(missing, NotFound)
    assert (
        (hidden.code, hidden.resource)
        == (missing.code, missing.resource)
        == (
            "DEPOT_NOT_FOUND",
            "Depot",
        )
    )
    assert hidden.message == f"No Depot with id {site.depot_id}."
    assert missing.message == f"No Depot with id {unknown}."
    assert isinstance(await site.chart(scope=Scope.only(site.depot_id)), LoadChart)


async def test_no_depot_id_is_not_found(site):
    assert isinstance(await load_chart(site.deps, EVERYWHERE, None, T0, T0 + HOUR, 10), NotFound)


# --- series -------------------------------------------------------------------


async def test_one_series_per_subject_and_kind_power_sources_first_by_name(site):
    chart = await site.chart()
    assert isinstance(chart, LoadChart)
    battery, array = site.sources["Battery"], site.sources["Array"]
    a, b = site.circuits["Feeder A"], site.circuits["Feeder B"]
    assert [(s.subject_id, s.name, s.kind, s.unit) for s in chart.series] == [
        (array.id, "Array", K.POWER_SOURCE_LOAD_W, "W"),
        (array.id, "Array", K.POWER_SOURCE_SOC_PERCENT, "%"),
        (battery.id, "Battery", K.POWER_SOURCE_LOAD_W, "W"),
        (battery.id, "Battery", K.POWER_SOURCE_SOC_PERCENT, "%"),
        (a.id, "Feeder A", K.CIRCUIT_AVAILABLE_CAPACITY_W, "W"),
        (a.id, "Feeder A", K.CIRCUIT_FAIL_SAFE_CAPACITY_W, "W"),
        (a.id, "Feeder A", K.CIRCUIT_EFFECTIVE_CAPACITY_W, "W"),
        (b.id, "Feeder B", K.CIRCUIT_AVAILABLE_CAPACITY_W, "W"),
        (b.id, "Feeder B", K.CIRCUIT_FAIL_SAFE_CAPACITY_W, "W"),
        (b.id, "Feeder B", K.CIRCUIT_EFFECTIVE_CAPACITY_W, "W"),
    ]
    assert chart.bucket_seconds == 300


async def test_every_bucket_is_present_and_empty_ones_are_all_null(site):
    battery = site.sources["Battery"].id
    site.read(battery, K.POWER_SOURCE_LOAD_W, T0 + timedelta(seconds=10), 5.0)
    site.read(battery, K.POWER_SOURCE_LOAD_W, T0 + timedelta(seconds=20), 1.0)
    site.read(battery, K.POWER_SOURCE_LOAD_W, T0 + timedelta(seconds=30), 3.0)
    site.read(battery, K.POWER_SOURCE_LOAD_W, T0 + timedelta(minutes=50), 7.0)
    chart = await site.chart()
    assert isinstance(chart, LoadChart)
    load = next(
        s for s in chart.series if (s.subject_id, s.kind) == (battery, K.POWER_SOURCE_LOAD_W)
    )
    assert [p.at for p in load.points] == [T0 + timedelta(seconds=300 * i) for i in range(12)]
    assert (load.points[0].min, load.points[0].avg, load.points[0].max, load.points[0].last) == (
        1.0,
        3.0,
        5.0,
        3.0,
    )
    assert all((p.min, p.avg, p.max, p.last) == (None,) * 4 for p in load.points[1:10])
    assert (load.points[10].min, load.points[10].last) == (7.0, 7.0)
    assert load.points[11].last is None, "never carried forward"
    others = [s for s in chart.series if s is not load]
    assert all(p.last is None for s in others for p in s.points)


async def test_bucket_edges_belong_to_the_later_bucket_and_end_is_excluded(site):
    circuit = site.circuits["Feeder A"].id
    kind = K.CIRCUIT_AVAILABLE_CAPACITY_W
    site.read(circuit, kind, T0 - timedelta(microseconds=1), 1.0)
    site.read(circuit, kind, T0, 2.0)
    site.read(circuit, kind, T0 + timedelta(seconds=300) - timedelta(microseconds=1), 3.0)
    site.read(circuit, kind, T0 + timedelta(seconds=300), 4.0)
    site.read(circuit, kind, T0 + HOUR - timedelta(microseconds=1), 5.0)
    site.read(circuit, kind, T0 + HOUR, 6.0)
    chart = await site.chart()
    assert isinstance(chart, LoadChart)
    series = next(s for s in chart.series if (s.subject_id, s.kind) == (circuit, kind))
    assert [(p.min, p.max) for p in series.points] == [
        (2.0, 3.0),
        (4.0, 4.0),
        *[(None, None)] * 9,
        (5.0, 5.0),
    ]


async def test_the_last_bucket_may_be_short(site):
    chart = await site.chart(T0, T0 + timedelta(seconds=1001), 10)
    assert isinstance(chart, LoadChart)
    assert chart.bucket_seconds == 120
    assert len(chart.series[0].points) == 9
    assert chart.series[0].points[-1].at == T0 + timedelta(seconds=960)


async def test_buckets_sit_on_the_clock_and_the_first_starts_at_from(site):
    circuit = site.circuits["Feeder A"].id
    kind = K.CIRCUIT_AVAILABLE_CAPACITY_W
    start = T0 + timedelta(seconds=100)
    site.read(circuit, kind, T0 + timedelta(seconds=50), 1.0)
    site.read(circuit, kind, T0 + timedelta(seconds=150), 2.0)
    site.read(circuit, kind, T0 + timedelta(seconds=300) - timedelta(microseconds=1), 3.0)
    site.read(circuit, kind, T0 + timedelta(seconds=300), 4.0)
    site.read(circuit, kind, start + HOUR, 5.0)
    chart = await site.chart(start, start + HOUR, 13)
    assert isinstance(chart, LoadChart)
    series = next(s for s in chart.series if (s.subject_id, s.kind) == (circuit, kind))
    assert chart.bucket_seconds == 300
    assert [p.at for p in series.points] == [
        start,
        *(T0 + timedelta(seconds=300 * i) for i in range(1, 13)),
    ]
    assert [(p.min, p.max) for p in series.points[:2]] == [(2.0, 3.0), (4.0, 4.0)]
    assert all(p.min is None for p in series.points[2:]), "before from and at to: left out"


async def test_readings_of_other_depots_and_removed_subjects_are_not_charted(site):
    other = await Site().build()
    site.store.readings.append(
        Reading(other.depot_id, site.sources["Battery"].id, K.POWER_SOURCE_LOAD_W, T0, 1.0)
    )
    site.read(uuid4(), K.POWER_SOURCE_LOAD_W, T0, 1.0)
    chart = await site.chart()
    assert isinstance(chart, LoadChart)
    assert len(chart.series) == 10
    assert all(p.last is None for s in chart.series for p in s.points)


async def test_a_range_given_in_another_offset_is_charted_in_utc(site):
    plus2 = timezone(timedelta(hours=2))
    chart = await site.chart(T0.astimezone(plus2), (T0 + HOUR).astimezone(plus2))
    assert isinstance(chart, LoadChart)
    assert chart.start == T0 and chart.start.tzinfo is UTC
    assert chart.series[0].points[0].at.tzinfo is UTC


# --- overlays -------------------------------------------------------------------


async def test_a_depot_without_a_microgrid_has_series_but_no_capability_intervals(monkeypatch):
    calls: list[object] = []
    monkeypatch.setattr(
        chart_intervals, "capability_intervals", lambda *args: calls.append(args) or ["x"]
    )
    site = await Site().build(top_level=False)
    chart = await site.chart()
    assert isinstance(chart, LoadChart)
    assert [s.name for s in chart.series][::2] == ["Array", "Battery"]
    assert chart.capability_intervals == [] and calls == []


async def test_overlays_get_the_events_thresholds_reports_and_circuits(site, monkeypatch):
    seen: dict[str, tuple[object, ...]] = {}

    def capability(*args: object) -> list[object]:
        seen["capability"] = args
        return ["capability"]

    def capacity(*args: object) -> list[object]:
        seen["capacity"] = args
        return ["capacity"]

    monkeypatch.setattr(chart_intervals, "capability_intervals", capability)
    monkeypatch.setattr(chart_intervals, "capacity_source_intervals", capacity)
    device = await create_device(site.deps, EVERYWHERE, NewDevice(site.depot_id, "controller"))
    assert site.microgrid is not None
    await create_binding(
        site.deps, EVERYWHERE, site.microgrid.id, device.id, [CapabilityType.DER], 120
    )
    feeder = site.circuits["Feeder A"].id
    before = CapacityReport(site.depot_id, feeder, T0 - HOUR, 1.0, 2.0, "ok")
    inside = CapacityReport(site.depot_id, feeder, T0 + timedelta(minutes=1), 3.0, 2.0, "timeout")
    site.store.capacity_reports.extend([before, inside])
    chart = await site.chart()
    assert isinstance(chart, LoadChart)
    assert chart.capability_intervals == ["capability"]
    assert chart.capacity_source_intervals == ["capacity"]
    runs, stale_after, start, end, now = seen["capability"]
    assert runs == []
    assert stale_after == {CapabilityType.DER: 120, CapabilityType.PEAK_SHAVING: 300}
    assert (start, end, now) == (T0, T0 + HOUR, site.clock.current)
    runs, circuits, start, end, now, stale = seen["capacity"]
    assert runs == [CapacityRun(before, before), CapacityRun(inside, inside)]
    assert {c.id for c in circuits} == {c.id for c in site.circuits.values()}
    assert (start, end, now, stale) == (T0, T0 + HOUR, site.clock.current, 300)
