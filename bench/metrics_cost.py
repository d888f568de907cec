"""What the metrics cost the ingest path: recordCapabilityStatus over HTTP
(PostgreSQL + Redis) against the same server with METRICS_ENABLED=false, and
optionally against the code before metrics (BENCH_BASELINE_TREE: a checkout
served through PYTHONPATH), the servers taking turns in one run.

    .venv/bin/python -m bench.metrics_cost [--quick]
    BENCH_BASELINE_TREE=/tmp/main-tree .venv/bin/python -m bench.metrics_cost --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from contextlib import ExitStack

from bench.depots import provisioned_depots
from bench.load import post_load, take_turns
from bench.measure import p99
from bench.serving import serve
from bench.statuses import ingest_request
from bench.stores import Database, broker_env


async def bench_metrics_cost(total: int, rounds: int, microgrids: int) -> dict[str, object]:
    variants = {"metrics on": {}, "metrics off": {"METRICS_ENABLED": "false"}}
    baseline = os.environ.get("BENCH_BASELINE_TREE")
    if baseline:
        variants["before"] = {"PYTHONPATH": baseline}
    async with Database() as db:
        depots, token, _ = await provisioned_depots(db, microgrids)
        targets = [m for _d, m in depots]
        headers = {"Authorization": f"Bearer {token}"}

        def body(n: int) -> dict[str, object]:
            return ingest_request(targets[n % len(targets)], n)

        with ExitStack() as stack:
            servers = {
                name: stack.enter_context(serve(db.url, **broker_env(), **env))
                for name, env in variants.items()
            }
            sides = {name: (s.url, body, s.process.pid) for name, s in servers.items()}
            for url, make, _pid in sides.values():
                await post_load(url, make, 100, 4, headers)  # warm up
            turns = await take_turns(sides, rounds, total, 16, headers)
    result: dict[str, object] = {"requests": total * rounds, "microgrids": microgrids}
    base = statistics.median(turns["metrics off"].rates)
    for name, turn in turns.items():
        rate = statistics.median(turn.rates)
        result[name] = {
            "req_per_s": round(rate, 1),
            "median_ms": round(statistics.median(turn.latencies) * 1e3, 2),
            "p99_ms": round(p99(sorted(turn.latencies)) * 1e3, 2),
            "cpu_ms_per_request": round(statistics.median(turn.cpu) * 1e3, 3),
            "ratio_to_metrics_off": round(rate / base, 3),
        }
    return result


async def extension_cost(operations: int, rounds: int) -> dict[str, float]:
    """Microseconds per ``{ __typename }`` executed in process, by a schema
    without and with the metrics extension, taking turns: what the extension
    adds to every operation (the smallest one, so the share is the largest)."""
    from app.metrics import Metrics
    from app.operation_metrics import operation_extensions
    from schema.root import build_schema

    schemas = {
        "without": build_schema(),
        "with": build_schema(extensions=operation_extensions(Metrics(["Typename"]))),
    }
    samples: dict[str, list[float]] = {name: [] for name in schemas}
    for _ in range(rounds):
        for name, schema in schemas.items():
            start = time.perf_counter()
            for _ in range(operations):
                await schema.execute("query Typename { __typename }")
            samples[name].append((time.perf_counter() - start) / operations * 1e6)
    return {name: round(statistics.median(times), 1) for name, times in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--total", type=int, help="requests per side and round")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--extension-only", action="store_true")
    args = parser.parse_args()
    total, rounds = (300, 3) if args.quick else (2000, 5)
    total, rounds = args.total or total, args.rounds or rounds
    cost = asyncio.run(extension_cost(2000, 7))
    print(f"in process, us per operation: {cost}")
    if args.extension_only:
        return
    for name, figures in asyncio.run(bench_metrics_cost(total, rounds, 16)).items():
        print(f"{name}: {figures}")


if __name__ == "__main__":
    main()
