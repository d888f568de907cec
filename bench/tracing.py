"""Issue 17: recordCapabilityStatus and the card fan-out with tracing off and
on (exporting OTLP/HTTP to bench/otlp_sink.py, which drops the spans), and,
when BENCH_BASE_CHECKOUT names a checkout of the code before tracing with its
own virtualenv (``git worktree add ../base <commit> && make -C ../base
install``), that code as well: one server per side on one PostgreSQL database
and one Redis channel, all up at once, taking turns, so noise on this shared
machine hits every side alike."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable
from pathlib import Path

import httpx

from bench.depots import provisioned_depots
from bench.load import post_load, take_turns, wait_for
from bench.measure import p99
from bench.otlp_sink import start_sink
from bench.rawhttp import RawHttpConnection
from bench.rawws import RawSubscriber
from bench.report import Row, Show
from bench.serving import BIN, RunningServer, serve, stop
from bench.statuses import ingest_request
from bench.stores import Database, broker_env
from bench.subscribers import CARD_SUB, Arrivals, no_client_gc, open_in_batches

INGEST_MICROGRIDS = 16
CONNECTIONS = 8
"""Per side, in turn: three servers' pools share PostgreSQL's connections with
whatever else runs on the machine."""


def _binaries() -> dict[str, Path]:
    sides = {"off": BIN, "on": BIN}
    base = os.environ.get("BENCH_BASE_CHECKOUT")
    if base:
        sides["before"] = Path(base).resolve() / ".venv" / "bin" / "microgrid"
    return sides


async def _fanout(
    servers: dict[str, RunningServer],
    depots: list[tuple[str, str]],
    token: str,
    operator: str,
    count: int,
    posts: int,
) -> dict[str, list[float]]:
    """Post to each side's server in turn (the order rotating), for a depot
    only that side's ``count`` subscribers follow; every delivery's latency."""
    names = list(servers)
    arrivals = {name: Arrivals() for name in names}
    subscribers: dict[str, list[RawSubscriber]] = {}
    for (name, server), (depot_id, _m) in zip(servers.items(), depots, strict=False):
        arrivals[name].expect(count)

        def subscriber(
            _i: int, url: str = server.ws_url, depot: str = depot_id, on: Arrivals = arrivals[name]
        ) -> Awaitable[RawSubscriber]:
            return RawSubscriber.open(url, operator, CARD_SUB, {"depotId": depot}, on)

        subscribers[name] = await open_in_batches(subscriber, range(count))
        await asyncio.wait_for(arrivals[name].done.wait(), 120)  # every snapshot
    posters = {
        name: RawHttpConnection(server.url, {"Authorization": f"Bearer {token}"})
        for name, server in servers.items()
    }
    microgrids = {name: m for name, (_d, m) in zip(names, depots, strict=False)}
    latencies: dict[str, list[float]] = {name: [] for name in names}
    with no_client_gc():
        for n in range(posts):
            for name in names[n % len(names) :] + names[: n % len(names)]:
                await asyncio.sleep(0.05)
                received = len(subscribers[name][0].messages)
                arrivals[name].expect(count)
                start = time.perf_counter()
                status, body = await posters[name].post_json(ingest_request(microgrids[name], n))
                assert status == 200 and "errors" not in body, body
                try:
                    await asyncio.wait_for(arrivals[name].done.wait(), 60)
                except TimeoutError:
                    left = arrivals[name].left
                    raise TimeoutError(f"{name}: {left} of {count} without post {n}") from None
                latencies[name] += [s.messages[received][0] - start for s in subscribers[name]]
    for connection in posters.values():
        await connection.close()
    for subs in subscribers.values():
        for sub in subs:
            sub.close()
    return latencies


async def bench_tracing(
    total: int, rounds: int, subscribers: int, posts: int
) -> dict[str, dict[str, float]]:
    """Per side: ingest req/s (median of rounds), latency median/p99, server
    CPU per request; fan-out delivery median/p99. Also the load average."""
    binaries = _binaries()
    sink, sink_url = start_sink()
    load_before = os.getloadavg()[0]
    try:
        await wait_for(sink_url)
        env = broker_env()
        async with Database() as db:
            depots, token, operator = await provisioned_depots(
                db, INGEST_MICROGRIDS + len(binaries)
            )
            ingest_targets = [m for _d, m in depots[:INGEST_MICROGRIDS]]
            headers = {"Authorization": f"Bearer {token}"}

            def body(n: int) -> dict[str, object]:
                return ingest_request(ingest_targets[n % len(ingest_targets)], n)

            with contextlib.ExitStack() as stack:
                servers = {
                    name: stack.enter_context(
                        serve(
                            db.url,
                            binary=binary,
                            **env,
                            **({"OTEL_EXPORTER_OTLP_ENDPOINT": sink_url} if name == "on" else {}),
                        )
                    )
                    for name, binary in binaries.items()
                }
                sides = {name: (s.url, body, s.process.pid) for name, s in servers.items()}
                for url, make, _pid in sides.values():
                    await post_load(url, make, 100, 4, headers)  # warm up
                turns = await take_turns(sides, rounds, total, CONNECTIONS, headers)
                fanout = await _fanout(
                    servers, depots[INGEST_MICROGRIDS:], token, operator, subscribers, posts
                )
        async with httpx.AsyncClient(timeout=5) as client:
            exported = (await client.get(sink_url)).json()
    finally:
        stop(sink)
    results: dict[str, dict[str, float]] = {}
    for name in binaries:
        ingest, delivered = turns[name], sorted(fanout[name])
        results[name] = {
            "req_per_s": statistics.median(ingest.rates),
            "median_ms": statistics.median(ingest.latencies) * 1e3,
            "p99_ms": p99(sorted(ingest.latencies)) * 1e3,
            "cpu_ms_per_request": statistics.median(ingest.cpu) * 1e3,
            "fanout_median_ms": statistics.median(delivered) * 1e3,
            "fanout_p99_ms": p99(delivered) * 1e3,
        }
    results["run"] = {
        "requests_per_side": total * rounds,
        "subscribers": subscribers,
        "posts": posts,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "exported_kib": exported["bytes"] / 1024,
        "export_requests": exported["requests"],
    }
    return results


def _ingest(side: dict[str, float]) -> str:
    return (
        f"{side['req_per_s']:.0f} req/s, median {side['median_ms']:.0f} ms, "
        f"p99 {side['p99_ms']:.0f} ms, {side['cpu_ms_per_request']:.1f} ms CPU/request"
    )


def _fan(side: dict[str, float]) -> str:
    return f"median {side['fanout_median_ms']:.0f} ms, p99 {side['fanout_p99_ms']:.0f} ms"


def rows(r: dict[str, dict[str, float]]) -> list[Row]:
    run, on, off, before = r["run"], r["on"], r["off"], r.get("before")
    load = f"load {run['load_before']:.1f} → {run['load_after']:.1f}"
    ingest_base = f"off: {_ingest(off)}" + (f"; before: {_ingest(before)}" if before else "")
    ingest_ratio = (
        f"on/off {on['req_per_s'] / off['req_per_s']:.2f}x req/s, "
        f"{on['cpu_ms_per_request'] / off['cpu_ms_per_request']:.2f}x CPU"
    )
    fan_base = f"off: {_fan(off)}" + (f"; before: {_fan(before)}" if before else "")
    fan_ratio = (
        f"on/off median {on['fanout_median_ms'] / off['fanout_median_ms']:.2f}x, "
        f"p99 {on['fanout_p99_ms'] / off['fanout_p99_ms']:.2f}x"
    )
    if before:
        ingest_ratio += (
            f"; off/before {off['req_per_s'] / before['req_per_s']:.2f}x req/s, "
            f"{off['cpu_ms_per_request'] / before['cpu_ms_per_request']:.2f}x CPU"
        )
        fan_ratio += (
            f"; off/before median {off['fanout_median_ms'] / before['fanout_median_ms']:.2f}x, "
            f"p99 {off['fanout_p99_ms'] / before['fanout_p99_ms']:.2f}x"
        )
    return [
        (
            "recordCapabilityStatus, tracing on (HTTP, PostgreSQL + Redis)",
            f"{INGEST_MICROGRIDS} microgrids, {CONNECTIONS} connections, "
            f"{run['requests_per_side']:,.0f} requests per side; {load}",
            f"{_ingest(on)}; {run['exported_kib']:,.0f} KiB of spans exported "
            f"in {run['export_requests']:.0f} requests",
            ingest_base,
            ingest_ratio,
        ),
        (
            "card fan-out, tracing on, ingest to screen",
            f"{run['subscribers']:.0f} subscribers per side, {run['posts']:.0f} posts per side",
            _fan(on),
            fan_base,
            fan_ratio,
        ),
    ]


def run(quick: bool, show: Show, posts: int | None = None) -> list[Row]:
    total, rounds, subscribers, default_posts = (200, 3, 50, 5) if quick else (400, 3, 200, 12)
    result = asyncio.run(bench_tracing(total, rounds, subscribers, posts or default_posts))
    show("tracing", result)  # type: ignore[arg-type]
    return rows(result)


if __name__ == "__main__":
    from bench.report import header, markdown_table

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--posts", type=int, help="fan-out posts per side (12; more narrow the fan-out median)"
    )
    args = parser.parse_args()
    print(f"# {header(args.quick)}")
    show: Show = lambda name, row: print(name, row, flush=True)  # noqa: E731
    print(markdown_table(run(args.quick, show, args.posts)))
