"""Issue 17: server CPU per ingest request with tracing off and on, in one
process, the two apps taking turns (the ASGI callables driven directly, as
bench/profile_ingest.py does, so only server work is counted).

    .venv/bin/python -m bench.tracing_cpu [--requests 200] [--rounds 5] [--packets]
    .venv/bin/python -m bench.tracing_cpu --instructions [--requests 100] [--packets]

"on" exports OTLP/HTTP to bench/otlp_sink.py (a child process that drops the
spans), so the batch processor's thread and the encoding are counted too:
``time.process_time`` covers every thread of the process. BENCH_NO_EXPORT=1:
"on" makes its spans and drops them in process (what export adds, by
difference). OTEL_PYTHON_DISABLED_INSTRUMENTATIONS and OTEL_TRACES_SAMPLER
apply to "on" as they would to a server.

``--instructions`` counts instead of timing: the same run under valgrind's
callgrind, which counts the user-space instructions of every thread of the
process, switched on only around each side's requests (``callgrind_control``)
and flushing the spans before the count stops. One round; the same count run
after run, whatever else the machine does, so it sizes differences a few
percent wide that timing on a shared machine cannot (it leaves out the
kernel's share: sockets to PostgreSQL, Redis and the collector)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor

from app.asgi import create_app
from app.container import Container, build_container
from app.settings import Settings
from app.telemetry import Telemetry
from bench.depots import provisioned_depots
from bench.load import wait_for
from bench.otlp_sink import start_sink
from bench.packets import packet_request
from bench.profile_ingest import _packet_site, asgi_post
from bench.serving import cli, stop
from bench.statuses import ingest_request
from bench.stores import Database, redis_url


async def _send_all(app: Any, headers: list[tuple[bytes, bytes]], bodies: list[bytes]) -> None:
    for body in bodies:
        status, out = await asgi_post(app, headers, body)
        assert status == 200 and b"errors" not in out, out


async def _round(app: Any, headers: list[tuple[bytes, bytes]], bodies: list[bytes]) -> float:
    """CPU seconds per request over ``bodies``, sent one after another."""
    start = time.process_time()
    await _send_all(app, headers, bodies)
    return (time.process_time() - start) / len(bodies)


def _callgrind(*args: str) -> None:
    """``callgrind_control`` on this process. Callgrind takes commands only
    while the process runs, so this polls in short sleeps (a few thousand
    instructions each) rather than blocking or spinning, which would count
    the wait itself."""
    proc = subprocess.Popen(
        ["callgrind_control", *args, str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while proc.poll() is None:
        time.sleep(0.005)


async def _counted(
    app: Any,
    headers: list[tuple[bytes, bytes]],
    bodies: list[bytes],
    telemetry: Telemetry | None,
    label: str,
) -> None:
    """One side's requests (and the export of their spans) counted by
    callgrind, dumped under ``label``."""
    _callgrind("--instr=on")
    _callgrind("--zero")
    await _send_all(app, headers, bodies)
    if telemetry is not None:
        telemetry.provider.force_flush()
    _callgrind(f"--dump={label}")
    _callgrind("--instr=off")


async def main(
    requests: int, rounds: int, packets: bool, instructions: bool = False
) -> dict[str, Any]:
    sink, sink_url = start_sink()
    load_before = os.getloadavg()[0]
    containers: list[Container] = []
    try:
        await wait_for(sink_url)
        async with Database() as db:
            depots, token, _ = await provisioned_depots(db, 2)
            settings = Settings(
                database_url=db.url,
                redis_url=redis_url(),
                redis_channel=f"bench:{uuid.uuid4().hex}",
                access_log=False,
            )
            headers = [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"authorization", f"Bearer {token}".encode()),
            ]
            sides: dict[str, tuple[Any, Callable[[int], bytes]]] = {}
            tracing: dict[str, Telemetry | None] = {}
            for name, (depot_id, microgrid_id) in zip(("off", "on"), depots, strict=True):
                telemetry = Telemetry.from_environment(sink_url) if name == "on" else None
                if name == "on" and os.environ.get("BENCH_NO_EXPORT"):
                    telemetry = Telemetry(SpanProcessor())
                tracing[name] = telemetry
                container = build_container(settings, telemetry=telemetry)
                containers.append(container)
                app = create_app(container)
                await container.start()

                def status_body(n: int, m: str = microgrid_id) -> bytes:
                    return json.dumps(ingest_request(m, n)).encode()

                make: Callable[[int], bytes] = status_body
                if packets:
                    admin = cli(db.url, "tokens", "create", "--role", "admin").split()[-1]
                    admin_headers = [*headers[:2], (b"authorization", f"Bearer {admin}".encode())]
                    device = await _packet_site(app, admin_headers, db.dsn, depot_id, microgrid_id)
                    base_ms = int(time.time() * 1000) - 10**7

                    def packet_body(n: int, d: str = device, b: int = base_ms) -> bytes:
                        return json.dumps(packet_request(d, b + n, n)).encode()

                    make = packet_body
                sides[name] = (app, make)
            for app, warm in sides.values():  # warm up
                await _round(app, headers, [warm(n) for n in range(50)])
            for telemetry in tracing.values():  # the warm-up's spans not exported in a round
                if telemetry is not None:
                    telemetry.provider.force_flush()
            cpu: dict[str, list[float]] = {name: [] for name in sides}
            sent = 1000
            for r in range(1 if instructions else rounds):  # counting: once, the same each run
                names = list(sides)[r % 2 :] + list(sides)[: r % 2]
                for name in names:
                    app, make = sides[name]
                    bodies = [make(sent + n) for n in range(requests)]
                    sent += requests
                    if instructions:
                        await _counted(app, headers, bodies, tracing[name], name)
                    else:
                        cpu[name].append(await _round(app, headers, bodies))
            for container in containers:
                await container.close()
            containers.clear()
    finally:
        for container in containers:
            await container.close()
        stop(sink)
    if instructions:
        return {}
    off, on = (statistics.median(cpu[n]) * 1e3 for n in ("off", "on"))
    return {
        "what": "ingestSensorPacket" if packets else "recordCapabilityStatus",
        "off_ms": round(off, 2),
        "on_ms": round(on, 2),
        "on/off": round(on / off, 3),
        "rounds_ms": {n: [round(c * 1e3, 2) for c in v] for n, v in cpu.items()},
        "load": (round(load_before, 1), round(os.getloadavg()[0], 1)),
    }


def _dumped(dump: Path) -> tuple[str, int]:
    """A callgrind dump's label (``--dump=LABEL``) and its instruction total."""
    label, total = "", 0
    for line in dump.read_text().splitlines():
        if line.startswith("desc: Trigger: dump "):
            label = line.removeprefix("desc: Trigger: dump ")
        elif line.startswith("totals:"):
            total = int(line.split()[1])
    return label, total


def count_instructions(requests: int, packets: bool) -> dict[str, Any]:
    """This module's run under callgrind: instructions per request, each side."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}/callgrind.out",
            sys.executable, "-m", "bench.tracing_cpu", "--counted",
            "--requests", str(requests),
        ]  # fmt: skip
        if packets:
            command.append("--packets")
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
        dumps = (_dumped(dump) for dump in Path(out).glob("callgrind.out.*"))
        per_request = {label: total / requests for label, total in dumps if label}
    off, on = per_request["off"], per_request["on"]
    return {
        "what": "ingestSensorPacket" if packets else "recordCapabilityStatus",
        "off_instructions": round(off),
        "on_instructions": round(on),
        "on-off": round(on - off),
        "on/off": round(on / off, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--packets", action="store_true")
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--counted", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instructions:
        print(json.dumps(count_instructions(args.requests, args.packets)))
    else:
        result = asyncio.run(main(args.requests, args.rounds, args.packets, args.counted))
        if result:
            print(json.dumps(result))
