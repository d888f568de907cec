"""The prober, a child process (so the attackers' client CPU cannot delay it):
20 `GET /healthz` a second on a fixed schedule, each over a fresh connection,
each timed from its scheduled moment. It prints the samples as JSON when its
stdin closes.

    python -m bench.hostile_prober PORT START_AT   # started by bench.hostile
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

from bench.hostile_http import get, http
from bench.serving import ROOT

PROBE_RATE = 20.0
PROBE_TIMEOUT = 30.0
PROBE_CAP = 300.0


async def probe(port: int, start_at: float) -> list[tuple[float, bool]]:
    """(latency from the scheduled moment, answered 200) per probe, fired until
    stdin closes (the attack is over) or PROBE_CAP seconds have passed."""
    loop = asyncio.get_running_loop()
    begin = loop.time() + max(0.0, start_at - time.time())
    stopped = loop.run_in_executor(None, sys.stdin.read)
    results: list[tuple[float, bool]] = []

    async def one(at: float) -> None:
        await asyncio.sleep(max(0.0, at - loop.time()))
        answer = await http(port, get("/healthz"), PROBE_TIMEOUT)
        results.append((loop.time() - at, answer.status == 200))

    probes: list[asyncio.Future[None]] = []
    while not stopped.done() and len(probes) < PROBE_CAP * PROBE_RATE:
        at = begin + len(probes) / PROBE_RATE
        probes.append(asyncio.ensure_future(one(at)))
        await asyncio.wait({stopped}, timeout=max(0.0, at - loop.time()))
    await asyncio.gather(*probes)
    return results


def start_prober(port: int, start_at: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.hostile_prober", str(port), str(start_at)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


if __name__ == "__main__":
    print(json.dumps(asyncio.run(probe(int(sys.argv[1]), float(sys.argv[2])))))
