"""recordCapabilityStatus over HTTP against a minimal endpoint sending the same
SQL and publish (bench/raw_ingest.py), both servers taking turns."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess

from bench.depots import provisioned_depots
from bench.load import post_load, take_turns, wait_for
from bench.measure import p99
from bench.report import Row, Show
from bench.serving import free_port, serve, start_baseline, stop
from bench.statuses import ingest_request, status_body
from bench.stores import Database, broker_env


async def bench_ingest(
    total: int, concurrency: int, microgrids: int, rounds: int = 3
) -> dict[str, object]:
    """recordCapabilityStatus over HTTP (PostgreSQL + Redis) against a minimal
    Starlette endpoint sending the same SQL and publish, same load generator.
    Both servers run side by side and take turns (``rounds`` each), so noise
    on this shared machine hits both; medians are reported, with each
    server's CPU time per request. Posts go round-robin to ``microgrids``
    microgrids (one microgrid measures the per-stream lock, many throughput)."""
    env = broker_env()
    async with Database() as db:
        depots, token, _ = await provisioned_depots(db, microgrids)
        targets = [m for _d, m in depots]
        headers = {"Authorization": f"Bearer {token}"}

        def graphql_body(n: int) -> dict[str, object]:
            return ingest_request(targets[n % len(targets)], n)

        def raw_body(n: int) -> dict[str, object]:
            return status_body(targets[n % len(targets)], n)

        port = free_port()
        raw = start_baseline(
            "bench.raw_ingest:app",
            port,
            env={**os.environ, "RAW_DSN": db.dsn, **env},
            stderr=subprocess.DEVNULL,
        )
        try:
            with serve(db.url, **env) as server:
                raw_url = f"http://127.0.0.1:{port}/ingest"
                await wait_for(raw_url)
                sides = {
                    "graphql": (server.url, graphql_body, server.process.pid),
                    "raw": (raw_url, raw_body, raw.pid),
                }
                for url, body, _pid in sides.values():
                    await post_load(url, body, 100, 4, headers)  # warm up
                turns = await take_turns(sides, rounds, total, concurrency, headers)
        finally:
            stop(raw)
    gql, base = statistics.median(turns["graphql"].rates), statistics.median(turns["raw"].rates)
    return {
        "microgrids": microgrids,
        "requests": total * rounds,
        "concurrency": concurrency,
        "graphql_req_per_s": gql,
        "graphql_median_ms": statistics.median(turns["graphql"].latencies) * 1e3,
        "graphql_p99_ms": p99(sorted(turns["graphql"].latencies)) * 1e3,
        "graphql_cpu_ms_per_request": statistics.median(turns["graphql"].cpu) * 1e3,
        "raw_req_per_s": base,
        "raw_median_ms": statistics.median(turns["raw"].latencies) * 1e3,
        "raw_p99_ms": p99(sorted(turns["raw"].latencies)) * 1e3,
        "raw_cpu_ms_per_request": statistics.median(turns["raw"].cpu) * 1e3,
        "ratio_graphql_to_raw": gql / base,
    }


def run(quick: bool, show: Show) -> list[Row]:
    rows: list[Row] = []
    for microgrids in (1, 16):
        i = asyncio.run(bench_ingest(150 if quick else 2000, 16, microgrids, 2 if quick else 3))
        show("ingest", i)
        rows.append(
            (
                "recordCapabilityStatus (HTTP, PostgreSQL + Redis)",
                f"{microgrids} microgrid(s), 16 connections, {i['requests']:,} requests",
                f"{i['graphql_req_per_s']:.0f} req/s, median {i['graphql_median_ms']:.0f} ms, "
                f"p99 {i['graphql_p99_ms']:.0f} ms, "
                f"{i['graphql_cpu_ms_per_request']:.1f} ms CPU/request",
                f"raw Starlette + asyncpg {i['raw_req_per_s']:.0f} req/s, "
                f"{i['raw_cpu_ms_per_request']:.1f} ms CPU/request",
                f"{i['ratio_graphql_to_raw']:.2f}",
            )
        )
    return rows
