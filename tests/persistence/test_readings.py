"""The readings store on every store: buckets (min/avg/max/last per subject,
kind and bucket, on the clock's grid) and capacity runs answer as the
in-memory fake does — bucket edges, readings exactly at start and end, ties,
reports exactly stale_after apart, empty ranges, other depots, and
hypothesis-generated readings and reports compared with the fake; over hours
with minute and quarter-hour buckets too, which PostgreSQL serves from its
rollups, late readings included."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.readings import Bucket, CapacityReport, CapacityRun, Reading, ReadingKind
from tests.support.fakes import FakeReadings, Store

LOAD = ReadingKind.POWER_SOURCE_LOAD_W
SOC = ReadingKind.POWER_SOURCE_SOC_PERCENT
AVAILABLE = ReadingKind.CIRCUIT_AVAILABLE_CAPACITY_W
EFFECTIVE = ReadingKind.CIRCUIT_EFFECTIVE_CAPACITY_W
T0 = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
ON_GRID = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
US = timedelta(microseconds=1)


async def _add(deps, readings=(), reports=()):
    async with deps.uow() as uow:
        await uow.readings.add(list(readings), list(reports))
        await uow.commit()


async def _buckets(deps, depot, start, end, width):
    async with deps.uow(write=False) as uow:
        return await uow.readings.buckets(depot, start, end, width)


async def _runs(deps, depot, start, end, stale_after=300):
    async with deps.uow(write=False) as uow:
        return await uow.readings.capacity_runs(depot, start, end, stale_after)


def _same_buckets(found: list[Bucket], expected: list[Bucket]) -> None:
    """Equal, with ``avg`` compared to the last bits a summation order changes."""
    assert [(b.subject_id, b.kind, b.index) for b in found] == [
        (b.subject_id, b.kind, b.index) for b in expected
    ]
    for f, e in zip(found, expected, strict=True):
        assert (f.min, f.max, f.last) == (e.min, e.max, e.last), (f, e)
        assert math.isclose(f.avg, e.avg, rel_tol=1e-9, abs_tol=1e-6), (f, e)


async def test_buckets_hold_min_avg_max_and_last_per_subject_kind_and_bucket(deps):
    depot, source, circuit = uuid4(), uuid4(), uuid4()
    T0 = ON_GRID
    await _add(
        deps,
        [
            Reading(depot, source, LOAD, T0, 10.0),  # exactly at start: bucket 0
            Reading(depot, source, LOAD, T0 + timedelta(seconds=30), 30.0),
            Reading(depot, source, LOAD, T0 + timedelta(seconds=60) - US, 20.0),  # last of 0
            Reading(depot, source, LOAD, T0 + timedelta(seconds=60), 5.0),  # edge: bucket 1
            Reading(depot, source, SOC, T0 + timedelta(seconds=61), 55.5),
            Reading(depot, circuit, AVAILABLE, T0 + timedelta(seconds=179), 7e5),
            Reading(depot, circuit, EFFECTIVE, T0 + timedelta(seconds=179), 6e5),
            Reading(depot, circuit, AVAILABLE, T0 + timedelta(seconds=180), 1.0),  # at end: out
            Reading(depot, source, LOAD, T0 - US, 99.0),  # before start: out
        ],
    )
    found = await _buckets(deps, depot, T0, T0 + timedelta(seconds=180), 60)
    expected = sorted(
        [
            Bucket(source, LOAD, 0, 10.0, 20.0, 30.0, 20.0),
            Bucket(source, LOAD, 1, 5.0, 5.0, 5.0, 5.0),
            Bucket(source, SOC, 1, 55.5, 55.5, 55.5, 55.5),
            Bucket(circuit, AVAILABLE, 2, 7e5, 7e5, 7e5, 7e5),
            Bucket(circuit, EFFECTIVE, 2, 6e5, 6e5, 6e5, 6e5),
        ],
        key=lambda b: (str(b.subject_id), b.kind, b.index),
    )
    _same_buckets(found, expected)


async def test_the_last_of_readings_at_one_instant_is_the_one_written_last(deps):
    depot, source = uuid4(), uuid4()
    at = T0 + timedelta(seconds=5)
    await _add(deps, [Reading(depot, source, LOAD, at, 3.0), Reading(depot, source, LOAD, at, 1.0)])
    await _add(deps, [Reading(depot, source, LOAD, at, 2.0)])
    await _add(deps, [Reading(depot, source, LOAD, at - US, 9.0)])
    (bucket,) = await _buckets(deps, depot, T0, T0 + timedelta(seconds=10), 10)
    assert (bucket.min, bucket.max, bucket.last) == (1.0, 9.0, 2.0)
    assert bucket.avg == 15.0 / 4


async def test_empty_ranges_other_depots_and_gaps_give_no_buckets(deps):
    depot, source = uuid4(), uuid4()
    await _add(deps, [Reading(depot, source, LOAD, T0, 1.0)])
    assert await _buckets(deps, depot, T0 + US, T0 + timedelta(hours=1), 60) == []
    assert await _buckets(deps, depot, T0, T0, 60) == []
    assert await _buckets(deps, uuid4(), T0 - US, T0 + timedelta(hours=1), 60) == []
    await _add(deps, [Reading(depot, source, LOAD, T0 + timedelta(minutes=10), 2.0)])
    found = await _buckets(deps, depot, T0, T0 + timedelta(hours=1), 60)
    assert [b.index for b in found] == [0, 10], "empty buckets are left out, never filled"


async def test_capacity_runs_start_from_the_newest_report_before_start_per_circuit(deps):
    depot, a, b = uuid4(), uuid4(), uuid4()
    old = CapacityReport(depot, a, T0 - timedelta(hours=2), 1.0, None, "timeout")
    newest_a = CapacityReport(depot, a, T0 - US, 2.0, 5.0, "timeout")
    tie_a = CapacityReport(depot, a, T0 - US, 3.0, 5.0, "ok")  # same instant, written later
    before_b = CapacityReport(depot, b, T0 - timedelta(days=3), 4.0, None, None)
    at_start = CapacityReport(depot, b, T0, 5.0, 6.0, "ok")
    inside_a = CapacityReport(depot, a, T0 + timedelta(minutes=1), 8.0, None, "ok")
    at_end = CapacityReport(depot, a, T0 + timedelta(hours=1), 6.0, None, "error")
    elsewhere = CapacityReport(uuid4(), a, T0, 7.0, None, "ok")
    await _add(deps, reports=[old, newest_a, before_b])
    await _add(deps, reports=[tie_a, at_start, inside_a, at_end, elsewhere])
    found = await _runs(deps, depot, T0, T0 + timedelta(hours=1))
    expected = [CapacityRun(tie_a, inside_a), CapacityRun(before_b, before_b)]
    expected += [CapacityRun(at_start, at_start)]
    assert sorted(found, key=lambda r: str(r.circuit_id)) == sorted(
        expected, key=lambda r: str(r.circuit_id)
    )
    assert await _runs(deps, uuid4(), T0, T0 + timedelta(hours=1)) == []


async def test_an_available_report_exactly_stale_after_the_previous_begins_a_run(deps):
    depot, c = uuid4(), uuid4()
    ok = [CapacityReport(depot, c, T0 + s * US, 1.0, None, "ok") for s in (0, 9_999_999)]
    ok.append(CapacityReport(depot, c, T0 + 19_999_999 * US, 1.0, None, "ok"))  # stale at 10 s
    lost = [CapacityReport(depot, c, T0 + s * US, None, 2.0, "timeout") for s in (3e7, 9e7)]
    await _add(deps, reports=ok + lost)
    assert await _runs(deps, depot, T0, T0 + timedelta(minutes=5), 10) == [
        CapacityRun(ok[0], ok[1]),
        CapacityRun(ok[2], ok[2]),
        CapacityRun(lost[0], lost[1]),  # fail-safe does not go stale: one run
    ]


OFFSETS_US = st.one_of(
    st.integers(min_value=-3_000_000, max_value=40_000_000),
    st.sampled_from([0, -1, 1, 9_999_999, 10_000_000, 10_000_001, 30_000_000, 29_999_999]),
)
VALUES = st.one_of(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, -1.0, 1e9]),
)
SUBJECTS = [UUID(int=1), UUID(int=2), UUID("ffffffff-0000-0000-0000-000000000000")]
readings_strategy = st.lists(
    st.tuples(
        st.sampled_from(SUBJECTS),
        st.sampled_from(list(ReadingKind)),
        OFFSETS_US,
        VALUES,
        st.integers(min_value=0, max_value=2),
    ),
    max_size=40,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    drawn=readings_strategy,
    start_us=st.sampled_from([0, 1, -1, 5_000_000]),
    length_us=st.sampled_from([0, 1, 10_000_000, 29_999_999, 30_000_000, 45_000_001]),
    width=st.sampled_from([1, 3, 10, 60, 3600, 10**13]),
)
async def test_buckets_equal_the_fakes_for_any_readings(deps, drawn, start_us, length_us, width):
    depot = uuid4()
    readings = [Reading(depot, s, k, T0 + o * US, v) for s, k, o, v, _ in drawn]
    batches: list[list[Reading]] = [[], [], []]
    for reading, (*_, batch) in zip(readings, drawn, strict=True):
        batches[batch].append(reading)
    fake = FakeReadings(Store())
    for batch in batches:
        await _add(deps, batch)
        await fake.add(batch, [])
    start = T0 + start_us * US
    end = start + length_us * US
    _same_buckets(
        await _buckets(deps, depot, start, end, width),
        await fake.buckets(depot, start, end, width),
    )


MINUTE_US = 60_000_000
HOURS_OFFSETS_US = st.one_of(
    st.integers(min_value=-MINUTE_US, max_value=150 * MINUTE_US),
    st.sampled_from([k * 15 * MINUTE_US + d for k in range(-1, 11) for d in (-1, 0, 1)]),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    drawn=st.lists(
        st.tuples(
            st.sampled_from(SUBJECTS),
            st.sampled_from(list(ReadingKind)),
            HOURS_OFFSETS_US,
            VALUES,
            st.integers(min_value=0, max_value=3),
        ),
        max_size=60,
    ),
    start_us=st.one_of(
        st.sampled_from([0, 1, -1, MINUTE_US, 15 * MINUTE_US, 15 * MINUTE_US - 1]),
        st.integers(min_value=-MINUTE_US, max_value=120 * MINUTE_US),
    ),
    length_us=st.one_of(
        st.sampled_from([1, MINUTE_US, 15 * MINUTE_US, 15 * MINUTE_US + 1, 120 * MINUTE_US]),
        st.integers(min_value=1, max_value=160 * MINUTE_US),
    ),
    width=st.sampled_from([60, 120, 300, 900, 1800, 3600, 86_400]),
)
async def test_minute_and_quarter_hour_buckets_over_hours_equal_the_fakes(
    deps, drawn, start_us, length_us, width
):
    """Batches are written in turn, so later batches hold late readings for
    cells earlier ones filled (the rollups fold them in)."""
    depot = uuid4()
    batches: list[list[Reading]] = [[], [], [], []]
    for s, k, o, v, batch in drawn:
        batches[batch].append(Reading(depot, s, k, ON_GRID + o * US, v))
    fake = FakeReadings(Store())
    for batch in batches:
        await _add(deps, batch)
        await fake.add(batch, [])
    start = ON_GRID + start_us * US
    end = start + length_us * US
    _same_buckets(
        await _buckets(deps, depot, start, end, width),
        await fake.buckets(depot, start, end, width),
    )


REPORT_OFFSETS_US = st.one_of(
    st.sampled_from([-86_400_000_000, -10_000_000, -2, -1, 0, 1, 5, 1_999_999, 2_000_000]),
    st.sampled_from([2_000_001, 4_000_000, 9_999_999, 10_000_000, 10_000_001]),
    st.integers(min_value=-3_000_000, max_value=12_000_000),
)
reports_strategy = st.lists(
    st.tuples(
        st.sampled_from(SUBJECTS),
        REPORT_OFFSETS_US,
        st.one_of(st.none(), VALUES),
        st.one_of(st.none(), VALUES),
        st.sampled_from([None, "ok", "ok", "timeout", "connection_lost", "error"]),
        st.integers(min_value=0, max_value=2),
    ),
    max_size=30,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    drawn=reports_strategy,
    start_us=st.sampled_from([0, 1, -1, 2_000_000]),
    length_us=st.sampled_from([0, 1, 10_000_000, 10_000_001]),
    stale_after=st.sampled_from([1, 2, 10, 86_400 * 365 * 100]),
)
async def test_capacity_runs_equal_the_fakes_for_any_reports(
    deps, drawn, start_us, length_us, stale_after
):
    depot = uuid4()
    batches: list[list[CapacityReport]] = [[], [], []]
    for c, o, a, f, h, batch in drawn:
        batches[batch].append(CapacityReport(depot, c, T0 + o * US, a, f, h))
    fake = FakeReadings(Store())
    for batch in batches:
        await _add(deps, reports=batch)
        await fake.add([], batch)
    start = T0 + start_us * US
    end = start + length_us * US
    assert await _runs(deps, depot, start, end, stale_after) == await fake.capacity_runs(
        depot, start, end, stale_after
    )
