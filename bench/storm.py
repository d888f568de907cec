"""Reconnect storm: many screens open their `microgridCard` subscription at
once (after a deploy, say) against one server process; the time until each has
its SNAPSHOT, beside the time for one screen alone.

The same run can serve a baseline tree too (BENCH_BASELINE_TREE: a checkout of
main, e.g. ``git archive main | tar -x -C /tmp/main-tree``), with this tree's
virtual environment (the dependencies must be the same); the two servers take
turns, never running at once."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.depots import provisioned_depots
from bench.measure import cpu_seconds, metrics, p99
from bench.rawws import RawSubscriber
from bench.report import Row, Show
from bench.serving import HOST, ROOT, RunningServer, _wait_ready, free_port, stop
from bench.stores import Database, broker_env
from bench.subscribers import CARD_SUB, no_client_gc

SERVE = "import sys; from app.cli import main; sys.argv[0] = 'microgrid'; main()"


@contextlib.contextmanager
def serve_tree(tree: Path, database_url: str, **env: str) -> Iterator[RunningServer]:
    """``microgrid serve`` from the sources of ``tree`` (this interpreter, its
    packages; the tree's modules come first on the path)."""
    port = free_port()
    log = Path(os.environ.get("SERVE_LOG", os.devnull))
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--host", HOST, "--port", str(port)],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree), "DATABASE_URL": database_url, **env},
            stdout=out,
            stderr=out,
        )
    base = f"http://{HOST}:{port}"
    try:
        _wait_ready(base, process)
        yield RunningServer(port, base, f"{base}/graphql", f"ws://{HOST}:{port}/graphql", process)
    finally:
        stop(process)


async def _open(
    server: RunningServer, token: str, depot_ids: list[str], count: int
) -> dict[str, Any]:
    """``count`` screens at once, round-robin over the depots: seconds from the
    start until each has its snapshot, how many never got one (refused,
    closed, or an error instead), and what the server spent on them."""
    before = await metrics(server.url)
    cpu_before = cpu_seconds(server.process.pid)
    firsts: dict[int, asyncio.Future[None]] = {}

    def arrived(subscriber: RawSubscriber) -> None:
        first = firsts.get(id(subscriber))
        if first is not None and not first.done():
            first.set_result(None)

    async def screen(i: int) -> tuple[float, bytes] | None:
        variables: dict[str, object] = {"depotId": depot_ids[i % len(depot_ids)]}
        try:
            # Bounded: a socket the server closes before its ack never acks.
            subscriber = await asyncio.wait_for(
                RawSubscriber.open(server.ws_url, token, CARD_SUB, variables, arrived), 120
            )
        except (ConnectionError, OSError, TimeoutError):
            return None
        if not subscriber.messages:
            first = firsts[id(subscriber)] = asyncio.get_running_loop().create_future()
            await asyncio.wait({first, subscriber.closed}, return_when=asyncio.FIRST_COMPLETED)
        opened.append(subscriber)
        return subscriber.messages[0] if subscriber.messages else None

    opened: list[RawSubscriber] = []
    with no_client_gc():
        start = time.perf_counter()
        outcomes = await asyncio.gather(*(screen(i) for i in range(count)))
    cpu = cpu_seconds(server.process.pid) - cpu_before
    after = await metrics(server.url)
    snapshots = [o for o in outcomes if o is not None and b'"SNAPSHOT"' in o[1]]
    for sub in opened:
        sub.close()
    await _closed(server)
    return {
        # A screen that never got its snapshot waited for ever.
        "times": sorted(
            [at - start for at, _frame in snapshots] + [math.inf] * (count - len(snapshots))
        ),
        "failed": count - len(snapshots),
        "cpu_s": cpu,
        "statements": after["microgrid_db_statements_total"]
        - before["microgrid_db_statements_total"],
        "card_reads": after["microgrid_card_reads_total"] - before["microgrid_card_reads_total"],
    }


async def _closed(server: RunningServer, seconds: float = 30) -> None:
    """Until the server has let go of every subscription (the next storm finds
    no follower left)."""
    deadline = time.monotonic() + seconds
    while (await metrics(server.url))["microgrid_live_subscriptions"] > 0:
        if time.monotonic() > deadline:
            raise TimeoutError("subscriptions still open")
        await asyncio.sleep(0.1)


async def _measure(
    server: RunningServer, token: str, depot_ids: list[str], screens: int, storms: int
) -> dict[str, float]:
    await _open(server, token, depot_ids[:1], 1)  # warm-up: imports, pools, caches
    singles = [(await _open(server, token, depot_ids[:1], 1))["times"][0] for _ in range(5)]
    runs = [await _open(server, token, depot_ids, screens) for _ in range(storms)]
    return {
        "one_screen_ms": statistics.median(singles) * 1e3,
        "median_ms": statistics.median(statistics.median(r["times"]) for r in runs) * 1e3,
        "p99_ms": statistics.median(p99(r["times"]) for r in runs) * 1e3,
        "last_ms": statistics.median(r["times"][-1] for r in runs) * 1e3,
        "failed": statistics.median(r["failed"] for r in runs),
        "server_cpu_ms_per_screen": statistics.median(r["cpu_s"] for r in runs) / screens * 1e3,
        "statements": statistics.median(r["statements"] for r in runs),
        "card_reads": statistics.median(r["card_reads"] for r in runs),
    }


async def bench_storm(
    screens: int, depots: int, storms: int, passes: int, baseline: Path | None
) -> dict[str, dict[str, float]]:
    """Each tree (this one, and the baseline when given) served in turn,
    ``passes`` times; per tree the median over every storm of every pass."""
    trees = {"this": ROOT, **({"baseline": baseline} if baseline else {})}
    found: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    async with Database() as db:
        rows, _integration, operator = await provisioned_depots(db, depots)
        depot_ids = [depot for depot, _microgrid in rows]
        for _ in range(passes):
            for name, tree in reversed(trees.items()):
                with serve_tree(tree, db.url, **broker_env()) as server:
                    found[name].append(await _measure(server, operator, depot_ids, screens, storms))
    return {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        | {"screens": screens, "depots": depots, "storms": storms * passes}
        for name, results in found.items()
    }


def run(quick: bool, show: Show) -> list[Row]:
    baseline = os.environ.get("BENCH_BASELINE_TREE")
    screens, storms, passes = (300, 2, 1) if quick else (1000, 3, 2)
    results = asyncio.run(
        bench_storm(screens, 20, storms, passes, Path(baseline) if baseline else None)
    )
    for name, result in results.items():
        show(f"storm ({name})", dict(result))
    this, before = results["this"], results.get("baseline")
    size = f"{screens:,} screens at once over 20 depots, 1 process"
    line = _result(this)
    if before is None:
        return [("reconnect storm, open to SNAPSHOT", size, line, "—", "—")]
    cpu = this["server_cpu_ms_per_screen"] / before["server_cpu_ms_per_screen"]
    ratio = f"server CPU per screen {cpu:.2f}x"
    if math.isfinite(before["p99_ms"]):
        ratio += f", p99 {this['p99_ms'] / before['p99_ms']:.2f}x"
    return [("reconnect storm, open to SNAPSHOT", size, line, "main: " + _result(before), ratio)]


def _failed(r: dict[str, Any]) -> str:
    return f" ({r['failed']:.0f} screens got no snapshot)" if r["failed"] else ""


def _result(r: dict[str, Any]) -> str:
    return (
        f"median {r['median_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, last {r['last_ms']:.0f} ms"
        f"{_failed(r)}; "
        f"1 screen alone {r['one_screen_ms']:.0f} ms; server CPU "
        f"{r['server_cpu_ms_per_screen']:.1f} ms per screen; SQL per storm {r['statements']:.0f}, "
        f"card reads {r['card_reads']:.0f}"
    )


if __name__ == "__main__":
    rows = run("--quick" in sys.argv, lambda name, row: print(name, row, flush=True))
    for row in rows:
        print(" | ".join(row))
