"""One phase of the hostile-clients benchmark: the prober running while one
attack sends, the server's RSS sampled, its recovery awaited; and the table of
phases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.hostile_http import get, http
from bench.hostile_prober import start_prober
from bench.hostile_server import Server
from bench.hostile_target import Tally, Target

RECOVERY_CAP = 180.0


@dataclass
class Phase:
    name: str
    latencies_ms: list[float]
    failed: int
    rss_before: float
    rss_peak: float
    rss_after: float
    recovery_s: float
    tracebacks: Counter[str]
    tally: Tally

    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


async def recover(port: int) -> float:
    """Seconds until five probes in a row answer within 50 ms (at most RECOVERY_CAP)."""
    loop = asyncio.get_running_loop()
    start, good = loop.time(), 0
    while good < 5 and loop.time() - start < RECOVERY_CAP:
        began = loop.time()
        answer = await http(port, get("/healthz"), 10)
        good = good + 1 if answer.status == 200 and loop.time() - began < 0.05 else 0
        await asyncio.sleep(0.05)
    return loop.time() - start


async def run_phase(
    server: Server,
    target: Target,
    name: str,
    attack: Callable[[Target, float], Awaitable[Tally]],
    seconds: float,
) -> Phase:
    traces = server.exceptions()
    rss_before = server.rss_mib()
    start_at = time.time() + 1.0
    prober = start_prober(server.port, start_at)
    peak = rss_before
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            with contextlib.suppress(OSError):
                peak = max(peak, server.rss_mib())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    sampler = asyncio.ensure_future(sample())
    await asyncio.sleep(max(0.0, start_at - time.time()))
    began = time.monotonic()
    tally = await attack(target, seconds)
    tally.notes.append(f"ran {time.monotonic() - began:.1f} s")
    out, _ = await asyncio.to_thread(prober.communicate, "")
    recovery = await recover(server.port)
    stop.set()
    await sampler
    samples = json.loads(out)
    return Phase(
        name,
        [latency * 1e3 for latency, _ok in samples],
        sum(1 for _latency, ok in samples if not ok),
        rss_before,
        peak,
        server.rss_mib(),
        recovery,
        server.exceptions() - traces,
        tally,
    )


def _tracebacks(found: Counter[str]) -> str:
    return ", ".join(f"{v} {k}" for k, v in found.most_common()) or "0"


def table(phases: list[Phase]) -> str:
    base = phases[0].p99()
    rows = [
        "| phase | probes (failed) | median ms | p99 ms | max ms | p99 / baseline | "
        "RSS MiB before / peak / after | recovery s | tracebacks | what the attack did |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        lat = p.latencies_ms or [float("nan")]
        rows.append(
            f"| {p.name} | {len(p.latencies_ms)} ({p.failed}) | {statistics.median(lat):.1f} | "
            f"{p.p99():.1f} | {max(lat):.1f} | {p.p99() / base:.1f}x | "
            f"{p.rss_before:.0f} / {p.rss_peak:.0f} / {p.rss_after:.0f} | {p.recovery_s:.1f} | "
            f"{_tracebacks(p.tracebacks)} | {p.tally if p.name != phases[0].name else '-'} |"
        )
    return "\n".join(rows)
