"""Benchmarks, run on demand (never as timed tests). Loopback only, bounded.

    .venv/bin/python -m bench.run            # full sizes (PostgreSQL at TEST_POSTGRES_DSN)
    .venv/bin/python -m bench.run --quick    # small sizes (`make bench`)
    .venv/bin/python -m bench.run --only fanout

Each benchmark reports medians and a ratio against a baseline measured in the
same run, because the machine is shared and noisy. One module per benchmark
(bench/backfill.py, ...); this runner picks them and prints the table that
bench/README.md keeps.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable

from bench import (
    backfill,
    cluster_fanout,
    fanout,
    growth,
    ingest,
    load_chart,
    packets,
    storm,
    topology,
    tracing,
)
from bench.report import Row, Show, header, markdown_table

BENCHMARKS: dict[str, Callable[[bool, Show], list[Row]]] = {
    "backfill": backfill.run,
    "topology": topology.run,
    "ingest": ingest.run,
    "fanout": fanout.run,
    "cluster_fanout": cluster_fanout.run,
    "packets": packets.run,
    "growth": growth.run,
    "load_chart": load_chart.run,
    "storm": storm.run,
    "tracing": tracing.run,
}
"""In the order they run and their rows are printed."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--only", choices=list(BENCHMARKS))
    args = parser.parse_args()
    started = time.perf_counter()
    title = header(args.quick)
    print(f"# {title}")
    table: list[Row] = []

    def show(name: str, row: dict[str, object]) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {name}", row, flush=True)

    for name, run in BENCHMARKS.items():
        if args.only in (None, name):
            table += run(args.quick, show)
    print()
    print(f"{title} · {time.perf_counter() - started:.0f} s")
    print()
    print(markdown_table(table))
    print(f"\n(max RSS of this driver: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB)")


if __name__ == "__main__":
    main()
