"""`microgrid backfill` over N unprovisioned depots, against the SQL floor."""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import asyncpg

from bench.depots import insert_depots
from bench.measure import run_measured
from bench.report import Row, Show
from bench.serving import BIN
from bench.stores import Database


async def bench_backfill(depots: int, repeats: int) -> dict[str, object]:
    """`microgrid backfill` over N unprovisioned depots with 5 top-level circuits each,
    against the floor: one INSERT ... SELECT doing the same rows in SQL."""
    runs, rss, floor = [], [], []
    for _ in range(repeats):
        async with Database() as db:
            await insert_depots(db.dsn, depots, 5)
            env = {**os.environ, "DATABASE_URL": db.url}
            seconds, peak = run_measured([str(BIN), "backfill"], env)
            runs.append(seconds)
            rss.append(peak)
            conn = await asyncpg.connect(db.dsn)
            created = await conn.fetchval("SELECT count(*) FROM microgrids")
            nodes = await conn.fetchval("SELECT count(*) FROM microgrid_nodes")
            assert (created, nodes) == (depots, depots * 5), (created, nodes)
            await conn.execute("DELETE FROM microgrid_nodes; DELETE FROM microgrids")
            start = time.perf_counter()
            await conn.execute("""
                INSERT INTO microgrids (id, depot_id, version, created_at, updated_at)
                SELECT gen_random_uuid(), id, 1, now(), now() FROM depots;
                INSERT INTO microgrid_nodes
                    (id, microgrid_id, node_type, circuit_id, name, position)
                SELECT gen_random_uuid(), m.id, 'GRID_CONNECTION', c.id, c.name, c.position
                FROM circuits c JOIN microgrids m ON m.depot_id = c.depot_id
                WHERE c.parent_id IS NULL""")
            floor.append(time.perf_counter() - start)
            await conn.close()
    _, idle_rss = run_measured([str(BIN), "--help"], dict(os.environ))
    wall = statistics.median(runs)
    return {
        "depots": depots,
        "circuits": depots * 5,
        "wall_s": wall,
        "depots_per_s": depots / wall,
        "peak_rss_mib": max(rss) / 1024,
        "cli_startup_rss_mib": idle_rss / 1024,
        "sql_floor_s": statistics.median(floor),
        "ratio_to_floor": wall / statistics.median(floor),
    }


def run(quick: bool, show: Show) -> list[Row]:
    rows: list[Row] = []
    for size in [1_000, 3_000] if quick else [10_000, 100_000]:
        b = asyncio.run(bench_backfill(size, 1))
        show("backfill", b)
        rows.append(
            (
                "backfill (CLI, PostgreSQL)",
                f"{size:,} depots / {size * 5:,} circuits",
                f"{b['wall_s']:.2f} s, {b['depots_per_s']:,.0f} depots/s, "
                f"peak RSS {b['peak_rss_mib']:.1f} MiB",
                f"SQL floor {b['sql_floor_s']:.2f} s; CLI start-up "
                f"{b['cli_startup_rss_mib']:.1f} MiB",
                f"{b['ratio_to_floor']:.1f}x floor; "
                f"+{b['peak_rss_mib'] - b['cli_startup_rss_mib']:.1f} MiB",  # type: ignore[operator]
            )
        )
    return rows
