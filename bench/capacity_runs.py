"""Issue 15: ``Readings.capacity_runs`` on PostgreSQL, measured.

Fills a fresh, migrated database with 7 days of 10 s capacity reports for one
depot's 4 circuits (241,920 reports): a steady "ok" heartbeat with a few
losses (``--losses`` per circuit per day, each 3 reports of "timeout" with the
fail-safe value), plus one other depot's reports alike, so the depot filter
matters. Times the store's ``capacity_runs`` over the 7 days (SQLAlchemy,
rows mapped to runs; it reads the capacity cells), the bare statements
(asyncpg): ``RUNS`` over every report and ``RUNS_FROM_CELLS`` over the cells
(migration 0010) and, for comparison, reading every report of the range as
``CapacityReport``s (what the chart did before: the range part of the old
``capacity_reports``), interleaved; checks both statements return the same
rows and prints one ``EXPLAIN ANALYZE`` of each. Then the cells' cost at
write time: ``--inserts`` one-report inserts (as a packet's ingest writes
them) with the cells trigger enabled and disabled, interleaved, into a depot
of their own (whose cells then lack the reports written with it disabled).

Run: ``.venv/bin/python -m bench.capacity_runs [--runs 21] [--losses 4] [--db NAME]``."""

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
from persistence.reading_store import RUNS, RUNS_FROM_CELLS, SqlReadings, report_from_row

DAYS = 7
STEP_S = 10
CIRCUITS = 4
STALE_AFTER_S = 300
"""The service default (app/settings.py)."""


async def _fill(conn: asyncpg.Connection, depot: uuid.UUID, start: datetime, losses: int) -> None:
    n = DAYS * 86400 // STEP_S
    per_day = 86400 // STEP_S
    t0 = partitions.epoch_us(start)
    for _ in range(CIRCUITS):
        # A loss: reports i..i+2 of a day's slot time out; the rest are "ok".
        lost = f"(g % {per_day // max(losses, 1)}) BETWEEN 100 AND 102" if losses else "false"
        await conn.execute(
            "INSERT INTO capacity_reports (depot_id, circuit_id, observed_us, available_w,"
            f" fail_safe_w, heartbeat) SELECT $1, $2, {t0} + g::bigint * {STEP_S * 1_000_000},"
            f" random() * 1e6, 5e5, CASE WHEN {lost} THEN 'timeout' ELSE 'ok' END"
            f" FROM generate_series(0, {n - 1}) g",
            depot,
            uuid.uuid4(),
        )


async def _inserts(conn: asyncpg.Connection, at: datetime, n: int) -> None:
    """One-report inserts, 10 s apart per circuit, in blocks of 20 with the
    trigger on and off in turn (an untimed insert after each switch re-plans)."""
    depot, circuits = uuid.uuid4(), [uuid.uuid4() for _ in range(CIRCUITS)]
    insert = (
        "INSERT INTO capacity_reports (depot_id, circuit_id, observed_us, available_w,"
        " fail_safe_w, heartbeat) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[],"
        " $4::float8[], $5::float8[], $6::varchar[])"
    )
    times: dict[str, list[float]] = {"trigger on": [], "trigger off": []}
    t0, i = partitions.epoch_us(at), 0
    while len(times["trigger off"]) < n:
        for name, action in (("trigger on", "ENABLE"), ("trigger off", "DISABLE")):
            await conn.execute(f"ALTER TABLE capacity_reports {action} TRIGGER capacity_cells_add")
            for k in range(21):
                i += 1
                values: list[list[Any]] = [[depot], [circuits[i % CIRCUITS]]]
                values += [[t0 + i * STEP_S * 10**6], [1e5], [5e5], ["ok"]]
                t = time.perf_counter()
                await conn.execute(insert, *values)
                took = (time.perf_counter() - t) * 1000
                if k:
                    times[name].append(took)
    await conn.execute("ALTER TABLE capacity_reports ENABLE TRIGGER capacity_cells_add")
    for name, ms in times.items():
        print(f"one-report insert, {name:12} p50 {statistics.median(ms):6.3f} ms")


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await call()
    return (time.perf_counter() - t0) * 1000


def _positional(sql: str) -> str:
    for i, name in enumerate(("depot", "start", "end", "stale"), 1):
        sql = sql.replace(f":{name}", f"${i}")
    return sql


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=f"i15_capruns_{uuid.uuid4().hex[:8]}")
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--losses", type=int, default=4, help="heartbeat losses per circuit-day")
    parser.add_argument("--inserts", type=int, default=200, help="one-report inserts timed")
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
            depot = uuid.uuid4()
            await _fill(conn, depot, start, args.losses)
            await _fill(conn, uuid.uuid4(), start, args.losses)
            await conn.execute("VACUUM ANALYZE capacity_reports")
            sql = _positional(RUNS["postgresql"].text)
            cells_sql = _positional(RUNS_FROM_CELLS.text)
            bargs = (
                depot,
                partitions.epoch_us(start),
                partitions.epoch_us(end),
                STALE_AFTER_S * 10**6,
            )
            rows = await conn.fetch(sql, *bargs)
            if await conn.fetch(cells_sql, *bargs) != rows:
                raise SystemExit("the cells statement and RUNS disagree")

            async def through_store() -> None:
                async with engine.connect() as c:
                    await SqlReadings(c).capacity_runs(depot, start, end, STALE_AFTER_S)

            every = (
                "SELECT depot_id, circuit_id, observed_us, seq, available_w, fail_safe_w, heartbeat"
                " FROM capacity_reports WHERE depot_id = $1 AND observed_us >= $2"
                " AND observed_us < $3 ORDER BY observed_us, seq"
            )

            async def every_report() -> None:
                [report_from_row(r) for r in await conn.fetch(every, *bargs[:3])]

            calls: dict[str, Callable[[], Awaitable[Any]]] = {
                "every report (before)": every_report,
                "RUNS statement (asyncpg)": lambda: conn.fetch(sql, *bargs),
                "cells statement (asyncpg)": lambda: conn.fetch(cells_sql, *bargs),
                "SqlReadings.capacity_runs": through_store,
            }
            times: dict[str, list[float]] = {name: [] for name in calls}
            for call in calls.values():
                await call()  # warm
            for _ in range(args.runs):
                for name, call in calls.items():
                    times[name].append(await _timed(call))
            reports = await conn.fetchval(
                "SELECT count(*) FROM capacity_reports WHERE depot_id = $1", depot
            )
            print(
                f"{reports} reports of the depot, {len(rows)} rows returned, {args.runs} runs each"
            )
            for name, ms in times.items():
                print(f"{name:28} p50 {statistics.median(ms):7.1f} ms  min {min(ms):7.1f} ms")
            cells = await conn.fetchval(
                "SELECT count(*) FROM capacity_cells WHERE depot_id = $1", depot
            )
            print(f"{cells} cells of the depot")
            for name, statement, values in (("RUNS", sql, bargs), ("cells", cells_sql, bargs)):
                plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *values)
                print(f"{name}:\n" + "\n".join("    " + r[0] for r in plan))
            await _inserts(conn, end, args.inserts)
            await conn.close()
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
