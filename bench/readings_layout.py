"""Issue 15: the load-chart readings' PostgreSQL layout, measured.

Fills a fresh, migrated database with 7 days of 10 s readings for one depot
(4 power sources x 2 kinds, 4 circuits x 3 kinds: 1,209,600 readings) in the
shipped layout (``readings``: one wide row per subject and instant, daily
partitions) and, beside it, the candidates it was chosen over: ``narrow`` (one
row per reading, kind as smallint, daily partitions) and ``weekly`` (the
shipped rows in weekly partitions). Prints bytes per reading
(``pg_total_relation_size`` of every partition, indexes included) and the
bucket statement's median and minimum at 1,000 points over the 7 days,
interleaved run by run so the machine's noise falls on all alike; and the
shipped store's ``buckets`` call (SQLAlchemy, rows mapped to domain buckets).

Run: ``.venv/bin/python -m bench.readings_layout [--runs 21] [--db NAME]``."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.stores import Database
from persistence import partitions
from persistence.database import create_engine
from persistence.reading_store import BUCKETS_POSTGRESQL, SqlReadings

DAYS = 7
STEP_S = 10
POINTS = 1000
SOURCES, CIRCUITS = 4, 4
KIND_CODES = {"load_w": 1, "soc_percent": 2, "available_w": 3, "fail_safe_w": 4, "effective_w": 5}

NARROW = """
CREATE SEQUENCE narrow_seq;
CREATE TABLE narrow (
  depot_id uuid NOT NULL, subject_id uuid NOT NULL, kind smallint NOT NULL,
  observed_us bigint NOT NULL, seq bigint NOT NULL DEFAULT nextval('narrow_seq'),
  value double precision NOT NULL
) PARTITION BY RANGE (observed_us);
CREATE TABLE narrow_default PARTITION OF narrow DEFAULT;
"""
NARROW_BUCKETS = """
SELECT subject_id, kind, (observed_us - $2) / $4 AS i,
       min(value), sum(value), count(*), max(value),
       (max(ARRAY[observed_us::float8, seq::float8, value]))[3]
FROM narrow WHERE depot_id = $1 AND observed_us >= $2 AND observed_us < $3
GROUP BY subject_id, kind, i ORDER BY subject_id, kind, i
"""
WEEKLY = """
CREATE TABLE weekly (LIKE readings INCLUDING DEFAULTS) PARTITION BY RANGE (observed_us);
CREATE TABLE weekly_default PARTITION OF weekly DEFAULT;
"""


def _positional(sql: str) -> str:
    for i, name in enumerate(("depot", "start", "end", "width"), 1):
        sql = sql.replace(f":{name}", f"${i}")
    return sql


async def _partitions(conn: asyncpg.Connection, table: str, first: datetime, days: int) -> None:
    at = first
    while at < first + timedelta(days=DAYS + days):
        low, high = partitions.epoch_us(at), partitions.epoch_us(at + timedelta(days=days))
        await conn.execute(
            f"CREATE TABLE {table}_p{at:%Y%m%d} PARTITION OF {table} "
            f"FOR VALUES FROM ({low}) TO ({high})"
        )
        at += timedelta(days=days)
    await conn.execute(f"CREATE INDEX ON {table} (depot_id, subject_id, observed_us)")


async def _fill(conn: asyncpg.Connection, depot: uuid.UUID, start: datetime) -> None:
    n = DAYS * 86400 // STEP_S
    t0 = partitions.epoch_us(start)
    ts = f"{t0} + g::bigint * {STEP_S * 1_000_000}"
    series = f"generate_series(0, {n - 1}) g"
    for _ in range(SOURCES):
        s = uuid.uuid4()
        await conn.execute(
            f"INSERT INTO readings (depot_id, subject_id, observed_us, load_w, soc_percent) "
            f"SELECT $1, $2, {ts}, random() * 1e5, random() * 100 FROM {series}",
            depot,
            s,
        )
    for _ in range(CIRCUITS):
        c = uuid.uuid4()
        await conn.execute(
            "INSERT INTO capacity_reports (depot_id, circuit_id, observed_us, available_w,"
            f" fail_safe_w, heartbeat) SELECT $1, $2, {ts}, random() * 1e6, 5e5,"
            f" CASE WHEN random() < 0.99 THEN 'ok' ELSE 'timeout' END FROM {series}",
            depot,
            c,
        )
        await conn.execute(
            "INSERT INTO readings (depot_id, subject_id, observed_us, available_w, fail_safe_w,"
            f" effective_w) SELECT $1, $2, {ts}, random() * 1e6, 5e5, random() * 1e6 FROM {series}",
            depot,
            c,
        )
    await conn.execute("INSERT INTO weekly SELECT * FROM readings")
    for column, code in KIND_CODES.items():
        await conn.execute(
            "INSERT INTO narrow (depot_id, subject_id, kind, observed_us, seq, value) "
            f"SELECT depot_id, subject_id, {code}, observed_us, seq, {column} FROM readings "
            f"WHERE {column} IS NOT NULL ORDER BY seq"
        )
    for table in ("readings", "weekly", "narrow", "capacity_reports"):
        await conn.execute(f"VACUUM ANALYZE {table}")


async def _size(conn: asyncpg.Connection, table: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
            "WHERE inhparent = $1::regclass",
            table,
        )
    )


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await call()
    return (time.perf_counter() - t0) * 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=f"mgs_bench_{uuid.uuid4().hex[:10]}")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    async with Database(args.db, keep=args.keep) as db:
        dsn, url = db.dsn, db.url
        engine = create_engine(url)
        try:
            end = datetime.now(UTC).replace(microsecond=0)
            start = end - timedelta(days=DAYS)
            await partitions.ensure_partitions(engine, start)
            conn = await asyncpg.connect(dsn)
            await conn.execute(NARROW + WEEKLY)
            await _partitions(conn, "narrow", partitions.partition_starts(start)[0], 1)
            week = partitions._ORIGIN + (
                (start - partitions._ORIGIN) // timedelta(days=7)
            ) * timedelta(days=7)
            await _partitions(conn, "weekly", week, 7)
            depot = uuid.uuid4()
            t0 = time.perf_counter()
            await _fill(conn, depot, start)
            print(f"filled in {time.perf_counter() - t0:.0f} s")
            readings = DAYS * 86400 // STEP_S * (SOURCES * 2 + CIRCUITS * 3)
            width_s = -(-(DAYS * 86400) // POINTS)
            bargs = (
                depot,
                partitions.epoch_us(start),
                partitions.epoch_us(end),
                width_s * 1_000_000,
            )
            wide_sql = _positional(BUCKETS_POSTGRESQL.text)
            store_engine = create_engine(url)

            async def through_store() -> None:
                async with store_engine.connect() as c:
                    await SqlReadings(c).buckets(depot, start, end, width_s)

            async def reports() -> None:
                async with store_engine.connect() as c:
                    await SqlReadings(c).capacity_runs(depot, start, end, 30)

            async def hashed() -> None:
                async with conn.transaction():
                    await conn.execute("SET LOCAL work_mem = '32MB'")
                    await conn.fetch(wide_sql, *bargs)

            calls: dict[str, Callable[[], Awaitable[Any]]] = {
                "wide, daily": lambda: conn.fetch(wide_sql, *bargs),
                "wide, daily, 32 MB": hashed,
                "wide, weekly": lambda: conn.fetch(
                    wide_sql.replace("FROM readings", "FROM weekly"), *bargs
                ),
                "narrow, daily": lambda: conn.fetch(NARROW_BUCKETS, *bargs),
                "SqlReadings.buckets": through_store,
                "SqlReadings.capacity_runs": reports,
            }
            times: dict[str, list[float]] = {name: [] for name in calls}
            for call in calls.values():
                await call()  # warm
            for _ in range(args.runs):
                for name, call in calls.items():
                    times[name].append(await _timed(call))
            sizes = {
                "wide, daily": await _size(conn, "readings"),
                "wide, weekly": await _size(conn, "weekly"),
                "narrow, daily": await _size(conn, "narrow"),
            }
            report_bytes = await _size(conn, "capacity_reports")
            report_rows = await conn.fetchval("SELECT count(*) FROM capacity_reports")
            print(
                f"capacity_reports: {report_rows} rows, {report_bytes / report_rows:.1f} B/report"
            )
            print(
                f"{readings} readings, {width_s} s buckets ({POINTS} points), {args.runs} runs each"
            )
            for name, ms in times.items():
                per = f"{sizes[name] / readings:6.1f} B/reading" if name in sizes else " " * 16
                print(
                    f"{name:30} {per}  p50 {statistics.median(ms):7.1f} ms  min {min(ms):7.1f} ms"
                )
            plan = await conn.fetch("EXPLAIN (ANALYZE) " + wide_sql, *bargs)
            print("\n".join("    " + r[0] for r in plan))
            await conn.close()
            await store_engine.dispose()
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
