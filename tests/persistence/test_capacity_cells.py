"""Capacity runs read from cells (PostgreSQL, stale_after >= 2 minutes) answer
exactly as reading every report does, and as the in-memory fake: reports
written late and out of order, ties on observedAt, gaps around 2, 5 and 15
minutes and across cell edges, heartbeats changing inside a cell, ranges
starting and ending mid-cell or inside one cell, several circuits and a
second depot. Below 2 minutes of staleness the store reads every report. The
migration's backfill builds the cells the trigger builds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from domain.readings import CapacityReport, CapacityRun
from persistence import schema_upgrade
from persistence.capacity_cells import CELL_US, MIN_STALE_S
from persistence.database import create_engine
from persistence.partitions import epoch_us
from persistence.reading_store import RUNS, RUNS_FROM_CELLS, SqlReadings, runs_from_rows
from tests.support.fakes import FakeReadings, Store

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
"""On a cell edge."""
US = timedelta(microseconds=1)
S = 1_000_000
CIRCUITS = [uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID("ffffffff-0000-0000-0000-000000000000")]


async def _add(deps, reports):
    async with deps.uow() as uow:
        await uow.readings.add([], list(reports))
        await uow.commit()


async def _runs(deps, depot, start, end, stale_after):
    async with deps.uow(write=False) as uow:
        return await uow.readings.capacity_runs(depot, start, end, stale_after)


Rows = Callable[[Any, uuid.UUID, datetime, datetime, int], Awaitable[list[Any]]]


@pytest.fixture
async def statement_rows(store: str, store_url: str | None) -> AsyncIterator[Rows | None]:
    """PostgreSQL: the rows a runs statement returns, read on a connection of its own."""
    if store != "postgresql" or store_url is None:
        yield None
        return
    engine = create_engine(store_url)

    async def rows(statement, depot, start, end, stale_after):
        params = {"depot": depot, "start": epoch_us(start), "end": epoch_us(end)}
        params["stale"] = stale_after * S
        async with engine.connect() as conn:
            return list((await conn.execute(statement, params)).all())

    yield rows
    await engine.dispose()


def _report(depot: uuid.UUID, circuit: uuid.UUID, offset_us: int, kind: str) -> CapacityReport:
    at = T0 + offset_us * US
    if kind == "ok":
        return CapacityReport(depot, circuit, at, 1e5, None, "ok")
    if kind == "timeout":
        return CapacityReport(depot, circuit, at, None, 5e4, "timeout")
    return CapacityReport(depot, circuit, at, None, None, None)


async def test_a_cell_of_steady_reports_reads_as_its_first_and_last(deps):
    """Two hours of "ok" every 10 s, one report written late, one loss of
    heartbeat mid-cell and a 5-minute silence across a cell edge."""
    depot, c = uuid.uuid4(), CIRCUITS[0]
    offsets = [s * 10 * S for s in range(720) if not 1770 <= s * 10 < 2100]
    late = offsets.pop(100)
    reports = {o: _report(depot, c, o, "timeout" if o == 4000 * S else "ok") for o in offsets}
    await _add(deps, [reports[o] for o in offsets])
    reports[late] = _report(depot, c, late, "ok")
    await _add(deps, [reports[late]])
    found = await _runs(deps, depot, T0 + 450 * S * US, T0 + timedelta(hours=2), 300)
    assert found == [
        CapacityRun(reports[440 * S], reports[1760 * S]),  # from the newest before start
        CapacityRun(reports[2100 * S], reports[3990 * S]),
        CapacityRun(reports[4000 * S], reports[4000 * S]),
        CapacityRun(reports[4010 * S], reports[7190 * S]),
    ]


async def test_a_gap_inside_a_cell_splits_the_run_once_stale(deps):
    """Reports in neighbouring minutes are up to 2 minutes apart: a cell cannot
    answer for a shorter stale_after, so the store reads its reports; a
    minute without a report inside a cell makes it read them too."""
    depot, c = uuid.uuid4(), CIRCUITS[1]
    offsets = [0, 10 * S, 119 * S + 999_999, 130 * S]  # minutes 0, 0, 1, 2
    offsets += [CELL_US, CELL_US + 10 * S, CELL_US + 130 * S]  # minutes 0, 0, 2
    reports = [_report(depot, c, o, "ok") for o in offsets]
    await _add(deps, reports)
    end = T0 + timedelta(hours=1)
    assert await _runs(deps, depot, T0, end, 1000) == [CapacityRun(reports[0], reports[6])]
    assert await _runs(deps, depot, T0, end, 300) == [
        CapacityRun(reports[0], reports[3]),
        CapacityRun(reports[4], reports[6]),
    ]
    assert await _runs(deps, depot, T0, end, 120) == [
        CapacityRun(reports[0], reports[3]),
        CapacityRun(reports[4], reports[5]),
        CapacityRun(reports[6], reports[6]),
    ]
    assert await _runs(deps, depot, T0, end, 60) == [
        CapacityRun(reports[0], reports[1]),
        CapacityRun(reports[2], reports[3]),
        CapacityRun(reports[4], reports[5]),
        CapacityRun(reports[6], reports[6]),
    ]


async def test_a_range_one_microsecond_inside_a_cell_reads_only_its_reports_in_range(deps):
    depot, c = uuid.uuid4(), CIRCUITS[2]
    offsets = [0, 0, *range(10 * S, CELL_US, 10 * S), CELL_US - 1]  # a tie on the edge
    reports = [
        CapacityReport(depot, c, T0 + o * US, float(n), None, "ok") for n, o in enumerate(offsets)
    ]
    await _add(deps, reports)
    edge = T0 + CELL_US * US
    assert await _runs(deps, depot, T0, edge, 300) == [CapacityRun(reports[0], reports[-1])]
    assert await _runs(deps, depot, T0 + US, edge, 300) == [
        CapacityRun(reports[1], reports[-1])  # from the one written last at the edge
    ]
    assert await _runs(deps, depot, T0, edge - US, 300) == [CapacityRun(reports[0], reports[-2])]


KINDS = ["ok", "ok", "ok", "ok", "timeout", "unknown", "mixed"]
STEADY_US = [10 * S, 60 * S - 1, 60 * S, 61 * S]
LENGTHS_US = [0, 1, 300 * S, CELL_US - 1, CELL_US, CELL_US + 1, 2 * CELL_US, 3 * CELL_US + 1]
LENGTHS_US += [4 * CELL_US, 6 * CELL_US]
GAPS_US = [0, 0, 120 * S - 1, 120 * S, 180 * S, 300 * S, 300 * S + 1, 900 * S]
STEPS_US = [0, 1, 10 * S, 60 * S - 1, 60 * S, 61 * S, 120 * S - 1, 120 * S, 120 * S + 1]
STEPS_US += [300 * S - 1, 300 * S, 300 * S + 1, 900 * S]


@st.composite
def segments(draw: st.DrawFn) -> list[tuple[int, uuid.UUID, int, tuple[Any, Any, Any], int]]:
    """Reports of one circuit at a fixed step, with one gap: (depot index,
    circuit, offset, (available, fail-safe, heartbeat), batch)."""
    depot = draw(st.sampled_from([0, 0, 0, 1]))
    circuit = draw(st.sampled_from(CIRCUITS))
    within = st.sampled_from([0, 1, 60 * S - 1, 60 * S, 450 * S, 840 * S, CELL_US - 1])
    start = draw(st.integers(-1, 3)) * CELL_US + draw(st.one_of(within, st.integers(0, CELL_US)))
    step = draw(st.one_of(st.sampled_from(STEADY_US), st.sampled_from(STEPS_US)))
    kind = draw(st.sampled_from(KINDS))
    batch = draw(st.integers(0, 2))
    count = draw(st.integers(1, 40 if step <= 61 * S else 8))
    gap_at, gap = draw(st.integers(0, count)), draw(st.sampled_from(GAPS_US))
    out = []
    for i in range(count):
        if kind == "ok":
            values: tuple[Any, Any, Any] = (1.0, draw(st.sampled_from([None, 2.0])), "ok")
        elif kind == "timeout":
            values = (draw(st.sampled_from([None, 1.0])), 2.0, "timeout")
        elif kind == "unknown":
            values = (None, None, draw(st.sampled_from([None, "ok", "error"])))
        else:
            values = (
                draw(st.sampled_from([None, 1.0, 1.0])),
                draw(st.sampled_from([None, 2.0])),
                draw(st.sampled_from([None, "ok", "ok", "ok", "timeout", "error"])),
            )
        late = draw(st.sampled_from([batch] * 4 + [2]))
        out.append((depot, circuit, start + i * step + (gap if i >= gap_at else 0), values, late))
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    drawn=st.lists(segments(), min_size=1, max_size=5).map(lambda s: [r for g in s for r in g]),
    order=st.randoms(use_true_random=False),
    start_us=st.sampled_from([0, 1, -1, 450 * S, CELL_US - 1, CELL_US, -CELL_US, 2 * CELL_US]),
    length_us=st.sampled_from(LENGTHS_US),
    stale_after=st.sampled_from([60, 119, 120, 121, 300, 1000]),
)
async def test_runs_from_cells_equal_the_raw_statement_and_the_fakes(
    deps, statement_rows, drawn, order, start_us, length_us, stale_after
):
    depots = [uuid.uuid4(), uuid.uuid4()]
    batches: list[list[CapacityReport]] = [[], [], []]
    for n, (d, c, offset, (available, fail_safe, heartbeat), batch) in enumerate(drawn):
        # a value of its own per report, so a wrong pick of a tie shows
        available = None if available is None else available + n
        fail_safe = None if fail_safe is None else fail_safe + n
        report = CapacityReport(depots[d], c, T0 + offset * US, available, fail_safe, heartbeat)
        batches[batch].append(report)
    fake = FakeReadings(Store())
    for batch in batches:
        order.shuffle(batch)
        await _add(deps, batch)
        await fake.add([], batch)
    start = T0 + start_us * US
    end = start + length_us * US
    for depot in depots:
        found = await _runs(deps, depot, start, end, stale_after)
        assert found == await fake.capacity_runs(depot, start, end, stale_after)
        if statement_rows is not None:
            raw = await statement_rows(RUNS["postgresql"], depot, start, end, stale_after)
            assert found == runs_from_rows(raw)
            if stale_after >= MIN_STALE_S:
                cells = await statement_rows(RUNS_FROM_CELLS, depot, start, end, stale_after)
                assert cells == raw


CELLS = text("SELECT * FROM capacity_cells ORDER BY depot_id, circuit_id, cell_us")


@pytest.mark.stores("postgresql")
def test_the_migrations_backfill_builds_the_cells_the_trigger_builds(store):
    """Reports written through the store (late ones included), by COPY, and
    around the Unix epoch (negative instants) give the same cells whether the
    trigger folded them in or the migration read them afterwards."""
    from tests.support import services

    url, name = services.create_postgres_database()
    try:
        depot, other = uuid.uuid4(), uuid.uuid4()
        reports = [
            _report(d, c, (i * 397 * S) % (4 * CELL_US) + (i % 3), kind)
            for i, (d, c, kind) in enumerate(
                (d, c, kind)
                for d in (depot, other)
                for c in CIRCUITS
                for kind in ("ok", "ok", "timeout", "unknown", "ok")
            )
        ] * 3
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        around_epoch = [
            CapacityReport(depot, CIRCUITS[0], epoch + o * US, 1.0, None, "ok")
            for o in (-CELL_US - 1, -1, 0, 59 * S, CELL_US)
        ]

        async def write() -> list[Any]:
            engine = create_engine(url)
            try:
                for part in (reports[1::2], reports[::2], around_epoch):
                    async with engine.begin() as conn:
                        await SqlReadings(conn).add([], part)
                dsn = services.POSTGRES_DSN.rsplit("/", 1)[0] + "/" + name
                copied = await asyncpg.connect(dsn)
                try:
                    await copied.copy_records_to_table(
                        "capacity_reports",
                        records=[(depot, CIRCUITS[1], epoch_us(T0) + 5, 3.0, None, "ok")],
                        columns=[
                            "depot_id",
                            "circuit_id",
                            "observed_us",
                            "available_w",
                            "fail_safe_w",
                            "heartbeat",
                        ],
                    )
                finally:
                    await copied.close()
                return await _cells(url)
            finally:
                await engine.dispose()

        by_trigger = asyncio.run(write())
        script = ScriptDirectory.from_config(schema_upgrade.alembic_config(url))
        before = script.get_revision("0010").down_revision
        schema_upgrade.downgrade(url, str(before))
        schema_upgrade.upgrade(url, "0010")
        by_backfill = asyncio.run(_cells(url))
    finally:
        services.drop_postgres_database(name)
    assert len(by_trigger) >= 20, "reports in many cells"
    assert by_backfill == by_trigger


async def _cells(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(CELLS)).all())
    finally:
        await engine.dispose()
