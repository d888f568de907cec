"""PostgreSQL time partitions of the load-chart tables (``readings``,
``capacity_reports``): declarative RANGE partitions on ``observed_us``, one per
:data:`WIDTH`, in the schema ``reading_partitions``, and a DEFAULT partition
each, so an insert never fails (an observation outside every partition, e.g.
a packet from years ago, lands there).

Retention IS dropping a partition: ``DROP TABLE reading_partitions.readings_p20261201``
removes that whole period at once — no bulk DELETE, no bloat, no vacuum debt.
The fleet-scale issue adds the job that drops the partitions wholly older than
``READING_RETENTION_DAYS`` (and deletes the few old rows the DEFAULT partition
may hold); nothing else ever deletes from these tables.

:func:`ensure_partitions` creates the partitions from the one holding ``now``
to :data:`AHEAD` ahead. It runs at migration time and at ``serve`` start-up;
it is idempotent and serialised by a transaction-level advisory lock, so
several processes starting at once create each partition once. Rows the
DEFAULT partition holds for a new partition's range are moved into it before
it is attached (PostgreSQL refuses to attach over them). SQLite has no
partitions: there it does nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import create_engine

SCHEMA = "reading_partitions"
PARTITIONED: dict[str, str] = {
    "readings": "observed_us",
    "capacity_reports": "observed_us",
    "reading_rollups": "cell_us",
    "capacity_cells": "cell_us",
}
"""Each partitioned table and the microsecond column it is partitioned on."""
WIDTH = timedelta(days=1)
"""One partition per UTC day (bench/README.md, "Issue 15: readings storage")."""
AHEAD = timedelta(days=14)
"""How far ahead partitions exist: a server may stay up this long without a restart
before new readings start landing in the DEFAULT partition."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
"""Partitions start at midnight UTC (a Monday, should WIDTH become a week)."""
_LOCK = 0x6D67725F70617274  # an advisory-lock key of this module's own


def epoch_us(at: datetime) -> int:
    """``at`` in whole microseconds since the Unix epoch (exact)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


def partition_starts(
    now: datetime, width: timedelta = WIDTH, ahead: timedelta = AHEAD
) -> list[datetime]:
    """The starts of the partitions that should exist at ``now``."""
    first = _ORIGIN + ((now - _ORIGIN) // width) * width
    starts = [first]
    while starts[-1] + width <= now + ahead:
        starts.append(starts[-1] + width)
    return starts


def partition_name(table: str, start: datetime) -> str:
    return f"{table}_p{start:%Y%m%d}"


def ensure_partitions_sync(conn: Connection, now: datetime) -> list[str]:
    """Create the missing partitions (qualified names returned), inside the
    caller's transaction."""
    if conn.dialect.name != "postgresql":
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    created: list[str] = []
    present = {
        table: key
        for table, key in PARTITIONED.items()
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is not None
    }  # a migration may run this before a later one creates a table
    for start in partition_starts(now):
        low, high = epoch_us(start), epoch_us(start + WIDTH)
        for table, key in present.items():
            name = f"{SCHEMA}.{partition_name(table, start)}"
            exists = conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar()
            if exists is not None:
                continue
            conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
            conn.execute(
                text(
                    f"WITH moved AS (DELETE FROM {SCHEMA}.{table}_default "
                    f"WHERE {key} >= :low AND {key} < :high RETURNING *) "
                    f"INSERT INTO {name} SELECT * FROM moved"
                ),
                {"low": low, "high": high},
            )
            conn.execute(
                text(
                    f"ALTER TABLE {table} ATTACH PARTITION {name} "
                    f"FOR VALUES FROM ({low}) TO ({high})"
                )
            )
            created.append(name)
    return created


async def ensure_partitions(engine: AsyncEngine, now: datetime) -> list[str]:
    """:func:`ensure_partitions_sync` in a transaction of its own."""
    if engine.dialect.name != "postgresql":
        return []
    async with engine.begin() as conn:
        return await conn.run_sync(ensure_partitions_sync, now)


def ensure_partitions_at(url: str) -> list[str]:
    """Blocking: :func:`ensure_partitions` now on the database at ``url`` (``serve``
    runs it after the migrations, which do it only when they run)."""

    async def run() -> list[str]:
        engine = create_engine(url)
        try:
            return await ensure_partitions(engine, datetime.now(UTC))
        finally:
            await engine.dispose()

    return asyncio.run(run())
