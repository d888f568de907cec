"""What the benchmarks read about a server besides its answers: a process's
RSS and CPU time (from /proc), the service's /metrics counters, a child
process's wall time and peak RSS, and the p99 of a sorted sample."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.rawhttp import RawHttpConnection


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def metrics(url: str) -> dict[str, float]:
    """The counters a server serves at /metrics, given its GraphQL URL."""
    connection = RawHttpConnection(url.replace("/graphql", "/metrics"))
    try:
        status, body = await connection.get_bytes()
    finally:
        await connection.close()
    assert status == 200, body
    return {
        name: float(value)
        for name, value in (
            line.split() for line in body.decode().splitlines() if not line.startswith("#")
        )
    }


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1])


def p99(ordered: list[float]) -> float:
    """The 99th percentile of an already sorted sample (nearest rank below)."""
    return ordered[int(0.99 * (len(ordered) - 1))]
