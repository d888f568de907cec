"""The event store on every store: append-only, gap-free, idempotent, rebuildable."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from domain.access import EVERYWHERE
from domain.capability import CapabilityType, Observation, StatusEvent
from domain.depots import NewCircuit, create_depot
from domain.projections import rebuild_latest_statuses
from domain.status_ingest import StatusRecorded, record_capability_status
from persistence import tables as t
from persistence.database import create_engine
from persistence.unit_of_work import SqlUnitOfWorkFactory
from tests.support.fakes import ConstraintViolation

REFUSED_BY_A_CONSTRAINT = (IntegrityError, asyncpg.UniqueViolationError, ConstraintViolation)
"""SQLAlchemy's error, the driver's (the asyncpg ingest path) or the fakes'."""


async def _microgrid(deps):
    created = await create_depot(deps, EVERYWHERE, "D", [NewCircuit("Top")])
    return created.sync.microgrid


async def _record(deps, microgrid, ref, value=True, capability=CapabilityType.DER, at=None):
    return await record_capability_status(
        deps,
        EVERYWHERE,
        Observation(microgrid.id, capability, value, at or deps.clock.current, ref),
    )


async def test_an_append_that_is_not_committed_leaves_nothing_behind(deps):
    """On PostgreSQL the append path goes straight to the driver: it must run in
    the unit of work's transaction, even as the first statement of it."""
    microgrid = await _microgrid(deps)
    async with deps.uow(write=True) as uow:
        sequence = await uow.events.reserve_sequence(microgrid.id)
        event = StatusEvent(
            uuid4(),
            Observation(microgrid.id, CapabilityType.DER, True, deps.clock.current, "gone"),
            deps.clock.current,
            sequence,
            True,
        )
        await uow.events.append(event)
        await uow.latest.put(event)
        bumped = await uow.microgrids.bump_revision(microgrid.id)
        assert await uow.events.find(microgrid.id, event.observation.idempotency_key) == event
        assert (await uow.events.history([microgrid.id], None, 5, None))[microgrid.id] == [event]
    async with deps.uow(write=False) as uow:
        assert await uow.events.last_sequence(microgrid.id) == 0
        assert await uow.events.find(microgrid.id, event.observation.idempotency_key) is None
        assert await uow.latest.for_microgrids([microgrid.id]) == {}
        reread = await uow.microgrids.get(microgrid.id)
    assert reread is not None and reread.revision == bumped - 1


@pytest.mark.database_only("append-only is a trigger of the database; the fakes have no SQL")
async def test_events_can_be_appended_but_never_updated_or_deleted(deps):
    microgrid = await _microgrid(deps)
    await _record(deps, microgrid, "r1")
    engine = deps.uow.engine
    for statement in (update(t.events).values(subject="DER2"), delete(t.events)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(statement)
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.events))).scalar_one() == 1


async def test_sequences_are_gap_free_per_stream_and_refs_unique(deps):
    a, b = await _microgrid(deps), await _microgrid(deps)
    for i in range(3):
        await _record(deps, a, f"a{i}")
    await _record(deps, b, "b0")
    await _record(deps, a, "a0")  # duplicate: must not consume a sequence
    await _record(deps, a, "a3")
    async with deps.uow(write=False) as uow:
        assert [e.sequence for e in await uow.events.after(a.id, 0, 100)] == [1, 2, 3, 4]
        assert [e.sequence for e in await uow.events.after(b.id, 0, 100)] == [1]
        assert await uow.events.last_sequence(a.id) == 4


async def test_history_is_newest_first_and_filters_by_capability(deps):
    microgrid = await _microgrid(deps)
    for i, capability in enumerate([CapabilityType.DER, CapabilityType.PEAK_SHAVING] * 3):
        await _record(deps, microgrid, f"r{i}", capability=capability)
    async with deps.uow(write=False) as uow:
        der = (await uow.events.history([microgrid.id], CapabilityType.DER, 10, None))[microgrid.id]
        page = (await uow.events.history([microgrid.id], None, 2, 5))[microgrid.id]
    assert [e.sequence for e in der] == [5, 3, 1]
    assert [e.sequence for e in page] == [4, 3]


async def test_history_of_many_streams_pages_each_stream_on_its_own(deps):
    a, b, quiet = await _microgrid(deps), await _microgrid(deps), await _microgrid(deps)
    for i in range(3):
        await _record(deps, a, f"a{i}")
    await _record(deps, b, "b0")
    async with deps.uow(write=False) as uow:
        pages = await uow.events.history([a.id, b.id, quiet.id], None, 2, None)
    assert [e.sequence for e in pages[a.id]] == [3, 2]
    assert [e.observation.provider_event_ref for e in pages[b.id]] == ["b0"]
    assert quiet.id not in pages


async def test_history_pages_each_stream_across_statements(deps, monkeypatch):
    """Streams beyond one statement's share are read by the next statement,
    each still paged on its own and newest first."""
    monkeypatch.setattr("persistence.event_store.HISTORY_CHUNK", 2)
    grids = [await _microgrid(deps) for _ in range(3)]
    for n, grid in enumerate(grids):
        for i in range(n + 2):
            await _record(deps, grid, f"{n}-{i}", capability=list(CapabilityType)[i % 2])
    async with deps.uow(write=False) as uow:
        pages = await uow.events.history([g.id for g in grids], None, 3, None)
        der = await uow.events.history([g.id for g in grids], CapabilityType.DER, 1, 5)
    assert [[e.sequence for e in pages[g.id]] for g in grids] == [[2, 1], [3, 2, 1], [4, 3, 2]]
    assert [[e.sequence for e in der[g.id]] for g in grids] == [[2], [2], [4]]


async def test_reserved_sequences_follow_each_other_and_count_once_committed(deps):
    microgrid = await _microgrid(deps)
    async with deps.uow() as uow:
        assert [await uow.events.reserve_sequence(microgrid.id) for _ in range(2)] == [1, 2]
        await uow.commit()
    async with deps.uow() as uow:
        assert await uow.events.last_sequence(microgrid.id) == 2
        assert await uow.events.reserve_sequence(microgrid.id) == 3  # not committed
    async with deps.uow(write=False) as uow:
        assert await uow.events.last_sequence(microgrid.id) == 2


async def test_a_taken_sequence_or_provider_event_ref_is_refused(deps):
    microgrid = await _microgrid(deps)
    await _record(deps, microgrid, "r1")
    async with deps.uow(write=False) as uow:
        (first,) = await uow.events.after(microgrid.id, 0, 10)
    same_sequence = replace(
        first, id=uuid4(), observation=replace(first.observation, provider_event_ref="r2")
    )
    same_ref = replace(first, id=uuid4(), sequence=2)
    for refused in (same_sequence, same_ref):
        with pytest.raises(REFUSED_BY_A_CONSTRAINT):
            async with deps.uow() as uow:
                await uow.events.append(refused)
                await uow.commit()


async def test_all_events_come_stream_by_stream_in_sequence_order(deps):
    a, b = await _microgrid(deps), await _microgrid(deps)
    for ref in ("a1", "a2"):
        await _record(deps, a, ref)
    await _record(deps, b, "b1")
    await _record(deps, a, "a3")
    async with deps.uow(write=False) as uow:
        events = await uow.events.all_events()
    expected = {a.id: [1, 2, 3], b.id: [1]}
    assert [(e.observation.microgrid_id, e.sequence) for e in events] == [
        (stream, sequence) for stream in sorted(expected) for sequence in expected[stream]
    ]


@pytest.mark.stores("postgresql")
@pytest.mark.database_only("fifty connections racing for the stream's row lock")
async def test_fifty_concurrent_identical_posts_make_one_event(deps, store):
    microgrid = await _microgrid(deps)
    engine = create_engine(
        deps.uow.engine.url.render_as_string(hide_password=False), pool_size=50, max_overflow=0
    )
    racing = type(deps)(uow=SqlUnitOfWorkFactory(engine), clock=deps.clock, new_id=uuid4)
    observation = Observation(
        microgrid.id, CapabilityType.PEAK_SHAVING, True, deps.clock.current, "same-ref"
    )
    try:
        results = await asyncio.gather(
            *[record_capability_status(racing, EVERYWHERE, observation) for _ in range(50)]
        )
    finally:
        await engine.dispose()
    assert all(isinstance(r, StatusRecorded) for r in results)
    assert sum(not r.duplicate for r in results) == 1
    assert sum(r.duplicate for r in results) == 49
    assert len({r.event.id for r in results}) == 1
    async with deps.uow.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.events))).scalar_one() == 1


observations = st.lists(
    st.tuples(
        st.sampled_from(list(CapabilityType)),
        st.booleans(),
        st.integers(min_value=-600, max_value=299),
        st.integers(min_value=0, max_value=12),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(posts=observations)
async def test_the_rebuilt_projection_equals_the_live_one(deps, posts):
    microgrid = await _microgrid(deps)
    base = deps.clock.current
    for capability, value, offset, ref in posts:
        await _record(
            deps, microgrid, f"ref-{ref}", value, capability, base + timedelta(seconds=offset)
        )
    async with deps.uow(write=False) as uow:
        live = await uow.latest.for_microgrids([microgrid.id])
    await rebuild_latest_statuses(deps)
    async with deps.uow(write=False) as uow:
        rebuilt = await uow.latest.for_microgrids([microgrid.id])
    assert rebuilt == live
