"""Retention (DESIGN §4): raw sensor packets with their outcomes are kept
``PACKET_RETENTION_DAYS``, the load-chart readings (every table in
:data:`persistence.partitions.PARTITIONED`) ``READING_RETENTION_DAYS``; events
and the audit trail are never touched.

PostgreSQL: a pass first creates the partitions ahead (the same job as at
start-up), then detaches and drops each partition whose whole range is older
than its window — a partition straddling the edge is kept whole until it is
wholly old — and deletes, in short batches, the old rows a DEFAULT partition
holds. One runner at a time across processes: a pass that cannot take the
session advisory lock does nothing and says so. Each DETACH waits at most
:data:`DETACH_LOCK_TIMEOUT` for its lock (requests queue behind a waiting
DETACH), else that partition is left for the next pass.

SQLite: no partitions; batched deletes of at most ``batch_size`` rows, each in
a transaction of its own, so a request waits for one short batch at most.

A dry run plans the same steps and counts the rows they would remove, and
changes nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    column,
    delete,
    func,
    inspect,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import ColumnElement, TableClause
from sqlalchemy.types import TypeEngine

from persistence.partitions import (
    Layout,
    ensure_partitions_sync,
    packet_layouts,
    partitioned_layouts,
    reading_layouts,
)
from persistence.types import UtcDateTime

BATCH_SIZE = 5000
DETACH_LOCK_TIMEOUT = "500ms"
_LOCK = 0x6D67725F72657461  # the retention runner's advisory-lock key
_LOCK_TIMEOUT_SQLSTATE = "55P03"
_BOUNDS = re.compile(r"FOR VALUES FROM \((.+)\) TO \((.+)\)")

Progress = Callable[[int, int, "Step"], None]
"""Called after each step with (steps done, steps in all, the step)."""


@dataclass(frozen=True)
class Windows:
    """How long each class of data is kept."""

    packet_days: int
    reading_days: int

    def cutoffs(self, now: datetime) -> list[tuple[Layout, datetime]]:
        """Every table of either class with the instant before which its rows go:
        a midnight UTC, so a DEFAULT partition or SQLite loses whole days as the
        partitions do, and a chart's rollup or capacity cell (a minute, a
        quarter hour) never keeps a part of its readings."""
        packets = _midnight(now - timedelta(days=self.packet_days))
        readings = _midnight(now - timedelta(days=self.reading_days))
        return [(layout, packets) for layout in packet_layouts()] + [
            (layout, readings) for layout in reading_layouts()
        ]


def _midnight(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Step:
    """One thing a pass does: drop a whole partition, or delete a table's (or a
    DEFAULT partition's) rows older than ``before``."""

    action: Literal["drop", "delete"]
    table: str
    target: str
    before: datetime
    rows: int | None = None
    """Rows removed (or, in a dry run, that would be); a drop's rows are counted
    only in a dry run."""


@dataclass
class RetentionReport:
    dry_run: bool
    ran: bool = True
    """False when another runner held the lock: this pass did nothing."""
    created: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    """Partitions whose DETACH did not get its lock in time (the next pass retries)."""

    @property
    def dropped(self) -> list[str]:
        return [s.target for s in self.steps if s.action == "drop"]

    @property
    def deleted(self) -> int:
        return sum(s.rows or 0 for s in self.steps if s.action == "delete")


async def run_retention(
    engine: AsyncEngine,
    now: datetime,
    windows: Windows,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> RetentionReport:
    """One retention pass at ``now``."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if engine.dialect.name == "postgresql":
        return await _postgresql(engine, now, windows, dry_run, batch_size, progress)
    return await _sqlite(engine, now, windows, dry_run, batch_size, progress)


# ---------------------------------------------------------------- PostgreSQL


async def _postgresql(
    engine: AsyncEngine,
    now: datetime,
    windows: Windows,
    dry_run: bool,
    batch_size: int,
    progress: Progress | None,
) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run)
    async with engine.connect() as conn:
        locked = await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK})
        await conn.commit()
        if not locked:
            report.ran = False
            return report
        try:
            if not dry_run:
                async with conn.begin():
                    report.created = await conn.run_sync(ensure_partitions_sync, now)
            async with conn.begin():
                plan = await conn.run_sync(_plan_partitions, now, windows)
            for done, step in enumerate(plan, 1):
                if dry_run:
                    step = await _count(conn, step)
                elif step.action == "drop":
                    if not await _drop(conn, step):
                        report.deferred.append(step.target)
                        continue
                else:
                    step = await _delete_from_default(conn, step, batch_size)
                report.steps.append(step)
                if progress is not None:
                    progress(done, len(plan), step)
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK})
            await conn.commit()
    return report


_CHILDREN = text(
    "SELECT c.oid::regclass::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound "
    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = CAST(:parent AS regclass) ORDER BY 1"
)


def _plan_partitions(conn: Connection, now: datetime, windows: Windows) -> list[Step]:
    conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))  # how pg_get_expr prints timestamptz bounds
    here = {layout.table for layout in partitioned_layouts(conn)}
    drops: list[Step] = []
    deletes: list[Step] = []
    for layout, cutoff in windows.cutoffs(now):
        if layout.table not in here:
            continue
        for name, bound in conn.execute(_CHILDREN, {"parent": layout.table}).all():
            if bound == "DEFAULT":
                deletes.append(Step("delete", layout.table, name, cutoff))
                continue
            found = _BOUNDS.fullmatch(bound)
            upper = found.group(2).strip("'") if found else "MAXVALUE"
            if upper not in ("MINVALUE", "MAXVALUE") and layout.read_bound(upper) <= cutoff:
                drops.append(Step("drop", layout.table, name, cutoff))
    return drops + deletes


async def _drop(conn: AsyncConnection, step: Step) -> bool:
    """DETACH and DROP in one short transaction; False if the lock was not had in time."""
    try:
        async with conn.begin():
            await conn.execute(text(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'"))
            await conn.execute(text(f"ALTER TABLE {step.table} DETACH PARTITION {step.target}"))
            await conn.execute(text(f"DROP TABLE {step.target}"))
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == _LOCK_TIMEOUT_SQLSTATE:
            return False
        raise
    return True


def _key(step: Step) -> tuple[Layout, str]:
    (layout,) = (x for x in packet_layouts() + reading_layouts() if x.table == step.table)
    return layout, layout.key


async def _count(conn: AsyncConnection, step: Step) -> Step:
    layout, key = _key(step)
    where = f" WHERE {key} < :before" if step.action == "delete" else ""
    async with conn.begin():
        rows = await conn.scalar(
            text(f"SELECT count(*) FROM {step.target}{where}"),
            {"before": layout.bound(step.before)} if where else {},
        )
    return Step(step.action, step.table, step.target, step.before, int(rows or 0))


async def _delete_from_default(conn: AsyncConnection, step: Step, batch_size: int) -> Step:
    layout, key = _key(step)
    batch = text(
        f"DELETE FROM {step.target} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {step.target} WHERE {key} < :before LIMIT :n))"
    )
    deleted = 0
    while True:
        async with conn.begin():
            result = await conn.execute(
                batch, {"before": layout.bound(step.before), "n": batch_size}
            )
        deleted += result.rowcount
        if result.rowcount < batch_size:
            break
        await asyncio.sleep(0)
    return Step(step.action, step.table, step.target, step.before, deleted)


# ---------------------------------------------------------------- SQLite


def _sqlite_table(layout: Layout) -> TableClause:
    key_type: TypeEngine[Any] = BigInteger() if layout.microseconds else UtcDateTime()
    return table(layout.table, column(layout.key, key_type))


async def _sqlite(
    engine: AsyncEngine,
    now: datetime,
    windows: Windows,
    dry_run: bool,
    batch_size: int,
    progress: Progress | None,
) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run)
    async with engine.connect() as conn:
        here = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    # Some reading-class tables exist on PostgreSQL only (the chart's rollups).
    cutoffs = [(layout, cutoff) for layout, cutoff in windows.cutoffs(now) if layout.table in here]
    for done, (layout, cutoff) in enumerate(cutoffs, 1):
        source = _sqlite_table(layout)
        old = source.c[layout.key] < layout.bound(cutoff)
        rows = 0
        if dry_run:
            async with engine.connect() as conn:
                rows = int(
                    await conn.scalar(select(func.count()).select_from(source).where(old)) or 0
                )
        else:
            rowid: ColumnElement[int] = literal_column("rowid", BigInteger())
            batch = delete(source).where(
                rowid.in_(select(rowid).select_from(source).where(old).limit(batch_size))
            )
            while True:
                async with engine.connect() as conn:
                    writing = await conn.execution_options(sqlite_begin="IMMEDIATE")
                    async with writing.begin():
                        result = await writing.execute(batch)
                rows += result.rowcount
                if result.rowcount < batch_size:
                    break
                await asyncio.sleep(0)
        step = Step("delete", layout.table, layout.table, cutoff, rows)
        report.steps.append(step)
        if progress is not None:
            progress(done, len(cutoffs), step)
    return report
