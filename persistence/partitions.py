"""PostgreSQL time partitions: declarative RANGE partitions, one per :data:`WIDTH`,
and a DEFAULT partition each, so an insert never fails (a row outside every
partition, e.g. an observation from years ago, lands there).

Two classes of partitioned table, each kept for its own retention
(persistence/retention.py):

- reading-class (:data:`PARTITIONED`, the load-chart tables), partitioned on a
  bigint microsecond column, their partitions in the schema :data:`SCHEMA`;
- packet-class (:data:`PACKET_PARTITIONED`, raw sensor packets with their
  outcomes), partitioned on their ``timestamptz`` receive time, their
  partitions in the schema :data:`PACKET_SCHEMA`.

Retention IS dropping a partition: ``DROP TABLE reading_partitions.readings_p20261201``
removes that whole period at once — no bulk DELETE, no bloat, no vacuum debt.

:func:`ensure_partitions` creates the partitions from the one holding ``now``
to :data:`AHEAD` ahead, for every table of either class that is partitioned in
the database (a table a later migration partitions is skipped until then). It
runs at migration time, at ``serve`` start-up and on every retention pass; it
is idempotent and serialised by a transaction-level advisory lock, so several
processes starting at once create each partition once. Rows the DEFAULT
partition holds for a new partition's range are moved into it before it is
attached (PostgreSQL refuses to attach over them). SQLite has no partitions:
there it does nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
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
PACKET_SCHEMA = "packet_partitions"
PACKET_PARTITIONED: dict[str, str] = {"sensor_packets": "received_at"}
"""Each packet-class table and the ``timestamptz`` column it is partitioned on."""
WIDTH = timedelta(days=1)
"""One partition per UTC day (bench/README.md, "Issue 15: readings storage")."""
AHEAD = timedelta(days=14)
"""How far ahead partitions exist: a server may stay up this long without a
retention pass before new rows start landing in the DEFAULT partition."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
"""Partitions start at midnight UTC (a Monday, should WIDTH become a week)."""
_LOCK = 0x6D67725F70617274  # an advisory-lock key of this module's own


def epoch_us(at: datetime) -> int:
    """``at`` in whole microseconds since the Unix epoch (exact)."""
    return (at - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Layout:
    """One partitioned table: its key column, where its partitions live, and
    whether the key is bigint microseconds (else ``timestamptz``)."""

    table: str
    key: str
    schema: str
    microseconds: bool

    @property
    def default(self) -> str:
        return f"{self.schema}.{self.table}_default"

    def bound(self, at: datetime) -> int | datetime:
        """``at`` as a value of the key column."""
        return epoch_us(at) if self.microseconds else at.astimezone(UTC)

    def literal(self, at: datetime) -> str:
        """``at`` as a partition-bound literal."""
        return str(epoch_us(at)) if self.microseconds else f"'{at.astimezone(UTC).isoformat()}'"

    def read_bound(self, value: str) -> datetime:
        """A bound as ``pg_get_expr`` prints it (session time zone UTC), as an instant."""
        if self.microseconds:
            return _EPOCH + timedelta(microseconds=int(value))
        return datetime.fromisoformat(value).astimezone(UTC)


def reading_layouts() -> list[Layout]:
    return [Layout(table, key, SCHEMA, True) for table, key in PARTITIONED.items()]


def packet_layouts() -> list[Layout]:
    return [Layout(table, key, PACKET_SCHEMA, False) for table, key in PACKET_PARTITIONED.items()]


def layouts() -> list[Layout]:
    """Every partitioned table of either class."""
    return reading_layouts() + packet_layouts()


def partition_starts(
    now: datetime, width: timedelta = WIDTH, ahead: timedelta = AHEAD, since: datetime | None = None
) -> list[datetime]:
    """The starts of the partitions that should exist at ``now`` (from the one
    holding ``since``, when given and earlier)."""
    first = _ORIGIN + ((min(now, since or now) - _ORIGIN) // width) * width
    starts = [first]
    while starts[-1] + width <= now + ahead:
        starts.append(starts[-1] + width)
    return starts


def partition_name(table: str, start: datetime) -> str:
    return f"{table}_p{start:%Y%m%d}"


_PARTITIONED_HERE = text(
    "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
    "WHERE c.relnamespace = current_schema()::regnamespace"
)


def partitioned_layouts(conn: Connection, among: Iterable[Layout] | None = None) -> list[Layout]:
    """The layouts (of ``among``, default every one) whose table is partitioned in
    this database: a migration runs before later ones partition their tables."""
    here = set(conn.execute(_PARTITIONED_HERE).scalars())
    return [layout for layout in (layouts() if among is None else among) if layout.table in here]


def ensure_partitions_sync(
    conn: Connection,
    now: datetime,
    since: datetime | None = None,
    among: Iterable[Layout] | None = None,
) -> list[str]:
    """Create the missing partitions (qualified names returned), inside the
    caller's transaction: from the one holding ``since`` (default ``now``) to
    :data:`AHEAD` past ``now``, for the partitioned tables of ``among``."""
    if conn.dialect.name != "postgresql":
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    tables = partitioned_layouts(conn, among)
    created: list[str] = []
    for start in partition_starts(now, since=since):
        for layout in tables:
            name = create_partition_sync(conn, layout, start)
            if name is not None:
                created.append(name)
    return created


def create_partition_sync(conn: Connection, layout: Layout, start: datetime) -> str | None:
    """The partition of ``layout``'s table for the period from ``start`` (a
    period's start), its rows moved in from the DEFAULT partition; its qualified
    name, or None if it was there already."""
    name = f"{layout.schema}.{partition_name(layout.table, start)}"
    if conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar() is not None:
        return None
    table, key = layout.table, layout.key
    conn.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {layout.default} "
            f"WHERE {key} >= :low AND {key} < :high RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        {"low": layout.bound(start), "high": layout.bound(start + WIDTH)},
    )
    conn.execute(
        text(
            f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES "
            f"FROM ({layout.literal(start)}) TO ({layout.literal(start + WIDTH)})"
        )
    )
    return name


async def ensure_partitions(
    engine: AsyncEngine, now: datetime, since: datetime | None = None
) -> list[str]:
    """:func:`ensure_partitions_sync` in a transaction of its own."""
    if engine.dialect.name != "postgresql":
        return []
    async with engine.begin() as conn:
        return await conn.run_sync(ensure_partitions_sync, now, since)


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
