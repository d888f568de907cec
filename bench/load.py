"""HTTP load from the benchmark driver: keep-alive POSTs timed one by one, and
waiting for a server to answer at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bench.measure import cpu_seconds
from bench.rawhttp import RawHttpConnection


async def post_load(
    url: str,
    make_body: Callable[[int], object],
    total: int,
    concurrency: int,
    headers: dict[str, str],
) -> tuple[float, list[float]]:
    """``total`` POSTs from ``concurrency`` keep-alive connections: (req/s, latencies)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        connection = RawHttpConnection(url, headers)
        try:
            for n in counter:
                start = time.perf_counter()
                status, body = await connection.post_json(make_body(n))
                latencies.append(time.perf_counter() - start)
                assert status == 200 and "errors" not in body, body
        finally:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return total / (time.perf_counter() - start), latencies


async def wait_for(url: str) -> None:
    """Returns once ``url`` answers anything; TimeoutError after 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with httpx.AsyncClient() as client:
                await client.get(url)
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


@dataclass
class Turns:
    """One side's figures over the rounds: req/s per round, every latency,
    and the server's CPU seconds per request per round."""

    rates: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


async def take_turns(
    sides: dict[str, tuple[str, Callable[[int], object], int]],
    rounds: int,
    total: int,
    concurrency: int,
    headers: dict[str, str],
) -> dict[str, Turns]:
    """Each side (url, body maker, server pid) takes ``total`` POSTs in turn,
    ``rounds`` times, so both see the same machine."""
    turns = {side: Turns() for side in sides}
    for _ in range(rounds):
        for side, (url, body, pid) in sides.items():
            before = cpu_seconds(pid)
            rate, latencies = await post_load(url, body, total, concurrency, headers)
            turns[side].cpu.append((cpu_seconds(pid) - before) / total)
            turns[side].rates.append(rate)
            turns[side].latencies += latencies
    return turns
