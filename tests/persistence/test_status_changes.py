"""``CapabilityEvents.status_changes`` (the load chart's event read) on every
store: the databases answer what the fake answers, on generated streams, and
the chart drawn from the answer is the chart drawn from every event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.capability import CapabilityType, Observation, StatusEvent
from domain.chart_intervals import StatusRun, capability_intervals, status_runs
from tests.support.fakes import FakeEvents, Store

PS, DER = CapabilityType.PEAK_SHAVING, CapabilityType.DER
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(seconds: float = 0, micros: int = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, microseconds=micros)


def _events(stream: UUID, rows: list[tuple[CapabilityType, bool, datetime]]) -> list[StatusEvent]:
    """In arrival (sequence) order."""
    return [
        StatusEvent(
            uuid4(),
            Observation(stream, capability, value, observed, f"r{i}"),
            observed + timedelta(seconds=1),
            i + 1,
            True,
        )
        for i, (capability, value, observed) in enumerate(rows)
    ]


async def _append(deps, events: list[StatusEvent]) -> None:
    async with deps.uow(write=True) as uow:
        for event in events:
            await uow.events.append(event)
        await uow.commit()


async def _changes(deps, stream, start, end, stale_after) -> list[StatusRun]:
    async with deps.uow(write=False) as uow:
        return await uow.events.status_changes(stream, start, end, stale_after)


async def _expected(events, stream, start, end, stale_after) -> list[StatusRun]:
    fake = FakeEvents(Store(events={stream: list(events)}))
    return await fake.status_changes(stream, start, end, stale_after)


async def test_a_steady_run_is_read_as_its_first_and_last_event(deps):
    stream = uuid4()
    # ON every 40 s, stale after 100 s; a gap of exactly 100 s; then OFF; PS once
    rows = [(DER, True, at(40 * i)) for i in range(15)]
    rows += [(DER, True, at(660)), (DER, False, at(700)), (PS, True, at(5))]
    events = _events(stream, rows)
    await _append(deps, events)
    found = await _changes(deps, stream, at(0), at(1000), {PS: 100, DER: 100})
    e = {x.sequence: x for x in events}
    assert found == [
        StatusRun(e[1], e[15]),
        StatusRun(e[16], e[16]),
        StatusRun(e[17], e[17]),
        StatusRun(e[18], e[18]),
    ]
    assert found == await _expected(events, stream, at(0), at(1000), {PS: 100, DER: 100})


async def test_the_latest_before_the_range_late_events_ties_and_the_end_bound(deps):
    stream = uuid4()
    events = _events(
        stream,
        [
            (DER, False, at(-50)),
            (DER, True, at(-500)),  # older, arrives later: not the latest before start
            (DER, False, at(-50)),  # a tie with the first: the higher sequence is the latest
            (DER, True, at(10)),
            (DER, True, at(10)),
            (PS, True, at(0)),  # exactly at start: inside
            (PS, False, at(100)),  # exactly at end: outside
        ],
    )
    await _append(deps, events)
    found = await _changes(deps, stream, at(0), at(100), {PS: 300, DER: 300})
    e = {x.sequence: x for x in events}
    assert found == [StatusRun(e[3], e[3]), StatusRun(e[4], e[5]), StatusRun(e[6], e[6])]
    assert found == await _expected(events, stream, at(0), at(100), {PS: 300, DER: 300})


async def test_other_streams_and_an_empty_stream(deps):
    mine, other = uuid4(), uuid4()
    await _append(deps, _events(other, [(DER, True, at(5))]))
    assert await _changes(deps, mine, at(0), at(100), {PS: 60, DER: 60}) == []


micros = st.one_of(
    st.integers(-2 * 10**9, 2 * 10**9),
    st.sampled_from([0, 1, -1]),
    # close to the slice edges of the stale-after values below
    st.builds(
        lambda k, s, d: k * s * 10**6 + d,
        st.integers(-3, 20),
        st.sampled_from([60, 97]),
        st.sampled_from([-1, 0, 1]),
    ),
)
rows = st.lists(
    st.tuples(st.sampled_from(list(CapabilityType)), st.booleans(), micros.map(lambda m: at(0, m))),
    max_size=40,
)
stale_afters = st.fixed_dictionaries(
    {c: st.sampled_from([1, 60, 97, 300, 3600]) for c in CapabilityType}
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows, stale_after=stale_afters, bounds=st.lists(micros, min_size=2, max_size=2))
async def test_every_store_answers_what_the_fake_answers(deps, rows, stale_after, bounds):
    stream = uuid4()
    events = _events(stream, rows)
    await _append(deps, events)
    start, end = (at(0, m) for m in sorted(bounds))
    found = await _changes(deps, stream, start, end, stale_after)
    assert found == await _expected(events, stream, start, end, stale_after)
    now = end + timedelta(seconds=1)
    everything = status_runs(events, stale_after)
    assert capability_intervals(found, stale_after, start, end, now) == capability_intervals(
        everything, stale_after, start, end, now
    )
