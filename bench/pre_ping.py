"""Issue 18: what pinging every pooled connection on checkout
(``DATABASE_POOL_PRE_PING=true``) costs a request, against the default (no
ping; a lost or read-only connection drops the whole pool instead:
persistence/stale_connections.py).

Two `microgrid serve` processes on one fresh PostgreSQL database, one with the
ping and one without, take turns at ``recordCapabilityStatus`` over HTTP (the
same load generator as bench/ingest.py), so the machine's noise falls on both.
Prints each side's req/s, median and p99 latency, server CPU time per request,
and the ratios, with the load average.

Run: ``.venv/bin/python -m bench.pre_ping [--quick]``."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from collections.abc import Callable

from bench.depots import provisioned_depots
from bench.load import post_load, take_turns
from bench.measure import p99
from bench.serving import serve
from bench.statuses import ingest_request
from bench.stores import Database

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args()
    total, rounds = (150, 2) if args.quick else (500, 3)
    for concurrency in (1, 16):
        result = asyncio.run(bench_pre_ping(total, concurrency, rounds))
        print({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()})


if __name__ == "__main__":
    main()
