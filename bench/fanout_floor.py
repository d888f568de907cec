"""The floors of the card fan-out: the same subscribers and client against a
bare Starlette WebSocket broadcast (bench/raw_fanout.py)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable

from bench.load import wait_for
from bench.measure import p99, rss_kib
from bench.rawhttp import RawHttpConnection
from bench.rawws import RawSubscriber
from bench.serving import free_port, start_baseline, stop
from bench.subscribers import Arrivals, no_client_gc, open_in_batches


async def bench_fanout_floor(count: int, posts: int, settle: float = 1.0) -> dict[str, object]:
    """The same subscribers and client against bench/raw_fanout.py: a bare
    Starlette WebSocket broadcast of one pre-encoded message (no GraphQL, no
    database, no broker), so what is left is uvicorn and loopback TCP. Two
    floors, taking turns: sending from a task per socket, and from one loop."""
    port = free_port()
    server = start_baseline(
        "bench.raw_fanout:app", port, "--ws", "websockets-sansio", "--ws-per-message-deflate", "0"
    )
    try:
        await wait_for(f"http://127.0.0.1:{port}/publish")
        arrivals = Arrivals()
        arrivals.expect(count)
        url = f"ws://127.0.0.1:{port}/graphql"

        def subscriber(_i: int) -> Awaitable[RawSubscriber]:
            return RawSubscriber.open(url, "-", "-", {}, arrivals)

        subscribers = await open_in_batches(subscriber, range(count // 2))
        await asyncio.sleep(settle)
        rss_half = rss_kib(server.pid)
        subscribers += await open_in_batches(subscriber, range(count // 2, count))
        await asyncio.wait_for(arrivals.done.wait(), 60)
        await asyncio.sleep(settle)
        rss_full = rss_kib(server.pid)
        latencies: dict[str, list[float]] = {"tasks": [], "loop": []}
        publishers = {
            mode: RawHttpConnection(f"http://127.0.0.1:{port}/publish?from={mode}")
            for mode in latencies
        }
        with no_client_gc():
            for n in range(2 * posts):
                mode = "tasks" if n % 2 == 0 else "loop"
                await asyncio.sleep(0.05)
                received = len(subscribers[0].messages)
                arrivals.expect(count)
                start = time.perf_counter()
                await publishers[mode].post_json({})
                await asyncio.wait_for(arrivals.done.wait(), 60)
                latencies[mode] += [sub.messages[received][0] - start for sub in subscribers]
        for publisher in publishers.values():
            await publisher.close()
        for sub in subscribers:
            sub.close()
    finally:
        stop(server)
    for values in latencies.values():
        values.sort()
    return {
        "subscribers": count,
        "posts": posts,
        **{
            f"{stat}_ms_{mode}": value
            for mode, values in latencies.items()
            for stat, value in (
                ("median", statistics.median(values) * 1e3),
                ("p99", p99(values) * 1e3),
            )
        },
        "rss_per_connection_kib": (rss_full - rss_half) / (count - count // 2),
    }
