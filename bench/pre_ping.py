"""Issue 18: what pinging every pooled connection on checkout
(``DATABASE_POOL_PRE_PING=true``) costs a request, against the default (no
ping; a lost or read-only connection drops the whole pool instead:
persistence/stale_connections.py).

Two `microgrid serve` processes on one fresh PostgreSQL database, one with the
ping and one without, take turns at ``recordCapabilityStatus`` over HTTP (the
same load generator as bench/ingest.py), so the machine's noise falls on both.
Prints each side's req/s, median and p99 latency, server CPU time per request,
and the ratios, with the load average. A request checks out two connections
(the token lookup, the unit of work), so it pays two pings; and, in process,
the cost of one checkout with one statement (the token lookup's way) on two
engines, with and without the ping, interleaved.

Run: ``.venv/bin/python -m bench.pre_ping [--quick]``."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable

from bench.depots import provisioned_depots
from bench.load import post_load, take_turns
from bench.measure import p99
from bench.serving import serve
from bench.statuses import ingest_request
from bench.stores import Database
from persistence.asyncpg_driver import AsyncpgDriver
from persistence.database import create_engine

_FIELDS = {"median_ms": "latencies", "cpu_ms_per_request": "cpu"}


async def bench_pre_ping(total: int, concurrency: int, rounds: int) -> dict[str, object]:
    async with Database() as db:
        depots, token, _ = await provisioned_depots(db, 16)
        targets = [m for _d, m in depots]
        headers = {"Authorization": f"Bearer {token}"}

        def body(n: int) -> object:
            return ingest_request(targets[n % len(targets)], n)

        with (
            serve(db.url, ACCESS_LOG="false") as plain,
            serve(db.url, ACCESS_LOG="false", DATABASE_POOL_PRE_PING="true") as pinged,
        ):
            sides: dict[str, tuple[str, Callable[[int], object], int]] = {
                "no_ping": (plain.url, body, plain.process.pid),
                "pre_ping": (pinged.url, body, pinged.process.pid),
            }
            for url, make, _pid in sides.values():
                await post_load(url, make, 100, 4, headers)  # warm up, fill the pools
            turns = await take_turns(sides, rounds, total, concurrency, headers)
    result: dict[str, object] = {
        "requests": total * rounds,
        "concurrency": concurrency,
        "load_average": os.getloadavg()[0],
    }
    for side, t in turns.items():
        result[f"{side}_req_per_s"] = statistics.median(t.rates)
        result[f"{side}_median_ms"] = statistics.median(t.latencies) * 1e3
        result[f"{side}_p99_ms"] = p99(sorted(t.latencies)) * 1e3
        result[f"{side}_cpu_ms_per_request"] = statistics.median(t.cpu) * 1e3
    for figure in ("median_ms", "cpu_ms_per_request"):
        pinged_figure = statistics.median(getattr(turns["pre_ping"], _FIELDS[figure]))
        plain_figure = statistics.median(getattr(turns["no_ping"], _FIELDS[figure]))
        result[f"ratio_{figure}"] = pinged_figure / plain_figure
    return result


async def bench_checkout(iterations: int, rounds: int) -> dict[str, object]:
    """Median µs of a checkout plus one statement straight to asyncpg, with and
    without the ping, in interleaved rounds on one database."""
    async with Database() as db:
        engines = {
            "no_ping": create_engine(db.url),
            "pre_ping": create_engine(db.url, pool_pre_ping=True),
        }
        samples: dict[str, list[float]] = {side: [] for side in engines}
        try:
            for _ in range(rounds):
                for side, engine in engines.items():
                    for _ in range(iterations):
                        start = time.perf_counter()
                        async with engine.connect() as connection:
                            driver = AsyncpgDriver(connection, in_transaction=False)
                            await driver.run("fetchval", "SELECT 1")
                        samples[side].append(time.perf_counter() - start)
        finally:
            for engine in engines.values():
                await engine.dispose()
    plain, pinged = (statistics.median(samples[side]) for side in ("no_ping", "pre_ping"))
    return {
        "checkouts": iterations * rounds,
        "load_average": os.getloadavg()[0],
        "no_ping_median_us": plain * 1e6,
        "pre_ping_median_us": pinged * 1e6,
        "ping_us": (pinged - plain) * 1e6,
        "ratio": pinged / plain,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args()
    total, rounds = (150, 2) if args.quick else (500, 3)
    checkout = asyncio.run(bench_checkout(200 if args.quick else 1000, 5 if args.quick else 10))
    print({k: round(v, 2) if isinstance(v, float) else v for k, v in checkout.items()})
    for concurrency in (1, 8):
        result = asyncio.run(bench_pre_ping(total, concurrency, rounds))
        print({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()})


if __name__ == "__main__":
    main()
