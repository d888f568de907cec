"""Retention removes packets and readings older than their windows and nothing
else: on PostgreSQL by dropping whole partitions (a partition straddling the
edge is kept whole) and deleting the old rows of the DEFAULT partitions, on
SQLite by batched deletes. A dry run changes nothing; two runners at once do
the work once; events and the audit trail are never touched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access import EVERYWHERE
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewDevice, create_device
from domain.packet_records import PacketRecord
from domain.ports import Dependencies
from domain.readings import CapacityReport, Reading, ReadingKind
from persistence import partitions
from persistence import tables as t
from persistence.database import create_engine
from persistence.retention import RetentionReport, Windows, run_retention

pytestmark = pytest.mark.database_only("retention drops partitions and deletes stored rows")

WINDOWS = Windows(packet_days=3, reading_days=5)
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
NOW = TODAY + timedelta(hours=12)
"""Midday: the packet window's edge (NOW - 3 d) falls inside a day's partition."""
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)
"""Outside every partition: the DEFAULT partition holds it."""

PACKETS = {
    "long ago": LONG_AGO,
    "a day past the window": NOW - timedelta(days=4),
    "edge day, before the edge": NOW - timedelta(days=3, hours=6),
    "edge day, after the edge": NOW - timedelta(days=3) + timedelta(hours=1),
    "recent": NOW - timedelta(hours=1),
}
GONE_EVERYWHERE = {"long ago", "a day past the window"}
KEPT_EVERYWHERE = {"edge day, after the edge", "recent"}
READINGS = {
    "long ago": LONG_AGO,
    "past the window": NOW - timedelta(days=6),
    "inside the window": NOW - timedelta(days=4),
}


FILLED = ("sensor_packets", "readings", "capacity_reports")
"""The tables these tests write (other reading-class tables may derive rows from them)."""


def _deleted(report: RetentionReport) -> dict[str, int]:
    """Rows deleted (not dropped with a partition) from each table these tests fill."""
    found: dict[str, int] = {}
    for step in report.steps:
        if step.action == "delete" and step.table in FILLED:
            found[step.table] = found.get(step.table, 0) + (step.rows or 0)
    return found


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The store, with daily partitions from a week back (PostgreSQL); the
    partitions a test leaves beyond the migration's are dropped afterwards."""
    engine = create_engine(database_url)
    before = await _partition_names(engine)
    await partitions.ensure_partitions(engine, NOW, since=NOW - timedelta(days=7))
    yield engine
    async with engine.begin() as conn:
        for name in await _partition_names(engine) - before:
            await conn.execute(text(f"DROP TABLE {name}"))
    await engine.dispose()


async def _partition_names(engine: AsyncEngine) -> set[str]:
    if engine.dialect.name != "postgresql":
        return set()
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT c.oid::regclass::text FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relkind = 'r'"
            )
        )
        return set(found.scalars())


async def _site(deps: Dependencies) -> tuple[UUID, UUID]:
    created = await create_depot(deps, EVERYWHERE, "R", [NewCircuit("F", 1.0)])
    device = await create_device(deps, EVERYWHERE, NewDevice(created.depot.id, "d"))
    return created.depot.id, device.id


async def _fill(deps: Dependencies) -> tuple[dict[str, UUID], dict[str, UUID]]:
    """The packets and readings named above; their ids by name."""
    depot, device = await _site(deps)
    packet_ids = {name: uuid4() for name in PACKETS}
    subject_ids = {name: uuid4() for name in READINGS}
    async with deps.uow() as uow:
        for name, at in PACKETS.items():
            await uow.packets.add(
                PacketRecord(packet_ids[name], device, at, at, {"name": name}, ())
            )
        await uow.readings.add(
            [
                Reading(depot, subject_ids[name], ReadingKind.POWER_SOURCE_LOAD_W, at, 1.0)
                for name, at in READINGS.items()
            ],
            [
                CapacityReport(depot, subject_ids[name], at, 1.0, None, "ok")
                for name, at in READINGS.items()
            ],
        )
        await uow.commit()
    return packet_ids, subject_ids


async def _kept(engine: AsyncEngine, packet_ids: dict[str, UUID], subject_ids: dict[str, UUID]):
    async with engine.connect() as conn:
        packets = set((await conn.execute(select(t.sensor_packets.c.id))).scalars())
        readings = set((await conn.execute(select(t.readings.c.subject_id))).scalars())
        reports = set((await conn.execute(select(t.capacity_reports.c.circuit_id))).scalars())
    return (
        {name for name, i in packet_ids.items() if i in packets},
        {name for name, i in subject_ids.items() if i in readings},
        {name for name, i in subject_ids.items() if i in reports},
    )


async def _history(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        events = await conn.scalar(select(func.count()).select_from(t.events))
        audit = await conn.scalar(select(func.count()).select_from(t.audit_log))
    return int(events or 0), int(audit or 0)


async def test_retention_removes_only_what_is_older_than_its_window(engine, deps, store):
    packet_ids, subject_ids = await _fill(deps)
    history = await _history(engine)

    report = await run_retention(engine, NOW, WINDOWS, batch_size=1)

    packets, readings, reports = await _kept(engine, packet_ids, subject_ids)
    assert packets >= KEPT_EVERYWHERE and not GONE_EVERYWHERE & packets
    assert readings == reports == {"inside the window"}
    assert await _history(engine) == history, "events and the audit trail are kept for ever"
    # The edge day is kept whole until it is wholly old: its partition on
    # PostgreSQL, its rows on SQLite (cut-offs are midnights UTC).
    assert "edge day, before the edge" in packets
    if store == "postgresql":
        edge_day = partitions.partition_starts(NOW - timedelta(days=3))[0]
        edge, before_edge = (
            f"packet_partitions.{partitions.partition_name('sensor_packets', day)}"
            for day in (edge_day, edge_day - partitions.WIDTH)
        )
        assert edge not in report.dropped and before_edge in report.dropped
        assert not any(name.endswith("_default") for name in report.dropped)
        assert _deleted(report) == {"sensor_packets": 1, "readings": 1, "capacity_reports": 1}
    else:
        assert _deleted(report) == {"sensor_packets": 2, "readings": 2, "capacity_reports": 2}

    again = await run_retention(engine, NOW, WINDOWS)
    assert again.dropped == [] and again.deleted == 0
    assert await _kept(engine, packet_ids, subject_ids) == (packets, readings, reports)


async def test_a_dry_run_changes_nothing_and_says_what_a_run_does(engine, deps):
    packet_ids, subject_ids = await _fill(deps)
    kept = await _kept(engine, packet_ids, subject_ids)
    names = await _partition_names(engine)

    dry = await run_retention(engine, NOW, WINDOWS, dry_run=True)

    assert await _kept(engine, packet_ids, subject_ids) == kept
    assert await _partition_names(engine) == names
    assert dry.created == []
    real = await run_retention(engine, NOW, WINDOWS)
    assert dry.dropped == real.dropped
    assert [(s.target, s.rows) for s in dry.steps if s.action == "delete"] == [
        (s.target, s.rows) for s in real.steps if s.action == "delete"
    ]
    if engine.dialect.name == "postgresql":
        counted = {s.table: s.rows for s in dry.steps if s.action == "drop" and s.table in FILLED}
        assert counted == {"sensor_packets": 1, "readings": 1, "capacity_reports": 1}


async def test_two_runners_at_once_do_the_work_once(engine, deps, database_url):
    packet_ids, subject_ids = await _fill(deps)
    other = create_engine(database_url)
    try:
        reports = await asyncio.gather(
            run_retention(engine, NOW, WINDOWS, batch_size=1),
            run_retention(other, NOW, WINDOWS, batch_size=1),
        )
    finally:
        await other.dispose()
    dropped = [name for r in reports for name in r.dropped]
    assert len(dropped) == len(set(dropped))
    alone = await run_retention(engine, NOW, WINDOWS)
    assert alone.dropped == [] and alone.deleted == 0
    packets, readings, _ = await _kept(engine, packet_ids, subject_ids)
    assert not GONE_EVERYWHERE & packets and readings == {"inside the window"}
    deleted = {table: sum(_deleted(r).get(table, 0) for r in reports) for table in FILLED}
    expected = (1, 1, 1) if engine.dialect.name == "postgresql" else (2, 2, 2)
    assert deleted == dict(zip(FILLED, expected, strict=True))


@pytest.mark.stores("postgresql")
async def test_a_runner_finding_the_lock_taken_does_nothing(engine, deps):
    packet_ids, subject_ids = await _fill(deps)
    kept = await _kept(engine, packet_ids, subject_ids)
    names = await _partition_names(engine)
    async with engine.connect() as holder:
        await holder.execute(text("SELECT pg_advisory_lock(x'6D67725F72657461'::bigint)"))
        report = await run_retention(engine, NOW, WINDOWS)
        await holder.execute(text("SELECT pg_advisory_unlock(x'6D67725F72657461'::bigint)"))
    assert not report.ran and report.steps == []
    assert await _kept(engine, packet_ids, subject_ids) == kept
    assert await _partition_names(engine) == names
    assert (await run_retention(engine, NOW, WINDOWS)).ran


@pytest.mark.stores("postgresql")
async def test_a_pass_creates_the_partitions_ahead(engine):
    later = NOW + timedelta(days=30)
    report = await run_retention(engine, later, WINDOWS)
    last = partitions.partition_starts(later)[-1]
    for table in ("sensor_packets", "readings"):
        assert any(name.endswith(partitions.partition_name(table, last)) for name in report.created)
