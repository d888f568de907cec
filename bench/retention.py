"""Issue 16: retention on PostgreSQL, dropping a day's partition against
deleting the same rows, measured in the same run.

Fills a fresh, migrated database (``retention_bench_*``, dropped afterwards)
with ``--rows`` sensor packets per day (a packet and its outcomes as the
simulator's controller sends them) over three days per round, then, round by
round, removes one day three ways: DETACH + DROP of its partition (what the
retention job does), one DELETE of its rows, and DELETEs of at most 5,000 rows
each (what the job does to a DEFAULT partition and on SQLite), the last two
followed by the VACUUM that reclaims their dead rows. Prints the median and
minimum of each.

Run: ``.venv/bin/python -m bench.retention [--rows 100000] [--rounds 5]``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.stores import ADMIN_DSN
from persistence import partitions, schema_upgrade
from persistence.database import create_engine

BATCH = 5000
PACKET = {
    "device_id": "<device>",
    "timestamp": 1764547200000,
    "manufacturer": "BBA",
    "model": "MGC-2",
    "serial_number": "SN-0001",
    "firmware": "1.2",
    "sensors": [
        {
            "sensor_id": "mgc",
            "measurands": [
                {"key": key, "value": value, "unit": None}
                for key, value in (
                    ("peak_shaving_active", True),
                    ("der_export_limit_active", False),
                    ("battery_soc_percent", 61.5),
                    ("load_w", 182000.0),
                )
            ],
        }
    ],
}
OUTCOMES = [
    {
        "sensorActionId": str(uuid.uuid4()),
        "action": action,
        "outcome": "APPLIED",
        "code": None,
        "message": None,
        "targetId": str(uuid.uuid4()),
        "measurands": ["load_w"],
    }
    for action in (
        "UPDATE_MICROGRID_STATE",
        "UPDATE_POWER_SOURCE_STATE",
        "UPDATE_POWER_SOURCE_LOAD",
    )
]
WAYS = ("detach + drop", "one DELETE + VACUUM", f"DELETE x {BATCH} + VACUUM")


async def _fill(conn: asyncpg.Connection, device: uuid.UUID, day: datetime, rows: int) -> None:
    step_us = 86_400_000_000 // rows
    await conn.execute(
        "INSERT INTO sensor_packets (id, device_id, observed_at, received_at, packet, outcomes) "
        "SELECT gen_random_uuid(), $1, t, t, $2::json, $3::json FROM ("
        "  SELECT $4::timestamptz + g * make_interval(secs => $5::float8 / 1e6) AS t"
        "  FROM generate_series(0, $6 - 1) g) s",
        device,
        json.dumps(PACKET),
        json.dumps(OUTCOMES),
        day,
        step_us,
        rows,
    )


def _partition(day: datetime) -> str:
    return f"{partitions.PACKET_SCHEMA}.{partitions.partition_name('sensor_packets', day)}"


async def _drop(conn: asyncpg.Connection, day: datetime) -> None:
    async with conn.transaction():
        await conn.execute(f"ALTER TABLE sensor_packets DETACH PARTITION {_partition(day)}")
        await conn.execute(f"DROP TABLE {_partition(day)}")


async def _delete(conn: asyncpg.Connection, day: datetime) -> None:
    await conn.execute(
        "DELETE FROM sensor_packets WHERE received_at >= $1 AND received_at < $2",
        day,
        day + partitions.WIDTH,
    )
    await conn.execute(f"VACUUM {_partition(day)}")


async def _delete_batched(conn: asyncpg.Connection, day: datetime) -> None:
    target = _partition(day)
    while True:
        status = await conn.execute(
            f"DELETE FROM {target} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {target} "
            f"WHERE received_at < $1 LIMIT {BATCH}))",
            day + partitions.WIDTH,
        )
        if int(status.split()[-1]) < BATCH:
            break
    await conn.execute(f"VACUUM {target}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000, help="packets per day")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    name = f"retention_bench_{uuid.uuid4().hex[:10]}"
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await schema_upgrade.upgrade_async(url)
        today = partitions.partition_starts(datetime.now(UTC))[0]
        days = [today - timedelta(days=d) for d in range(3 * args.rounds, 0, -1)]
        engine = create_engine(url)
        await partitions.ensure_partitions(engine, today, since=days[0])
        await engine.dispose()
        conn = await asyncpg.connect(dsn)
        depot, device = uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            "INSERT INTO depots (id, name, created_at) VALUES ($1, 'bench', now())", depot
        )
        await conn.execute(
            "INSERT INTO devices (id, depot_id, name, created_at) VALUES ($1, $2, 'mgc', now())",
            device,
            depot,
        )
        t0 = time.perf_counter()
        for day in days:
            await _fill(conn, device, day, args.rows)
        await conn.execute("VACUUM ANALYZE sensor_packets")
        size = await conn.fetchval(
            "SELECT pg_total_relation_size($1::regclass)", _partition(days[0])
        )
        print(
            f"filled {len(days)} days x {args.rows} packets in {time.perf_counter() - t0:.0f} s;"
            f" {size / args.rows:.0f} B/packet (a day's partition with its indexes)"
        )
        times: dict[str, list[float]] = {way: [] for way in WAYS}
        for round_ in range(args.rounds):
            dropped, deleted, batched = days[3 * round_ : 3 * round_ + 3]
            for way, call, day in zip(
                WAYS, (_drop, _delete, _delete_batched), (dropped, deleted, batched), strict=True
            ):
                start = time.perf_counter()
                await call(conn, day)
                times[way].append((time.perf_counter() - start) * 1000)
        await conn.close()
        base = statistics.median(times[WAYS[0]])
        print(f"{args.rounds} rounds, {args.rows} packets a day; load {os.getloadavg()[0]:.2f}")
        for way, ms in times.items():
            median = statistics.median(ms)
            print(f"{way:28} p50 {median:9.1f} ms  min {min(ms):9.1f} ms  {median / base:7.0f}x")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
