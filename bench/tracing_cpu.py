"""Issue 17: server CPU per ingest request with tracing off and on, in one
process, the two apps taking turns (the ASGI callables driven directly, as
bench/profile_ingest.py does, so only server work is counted).

    .venv/bin/python -m bench.tracing_cpu [--requests 200] [--rounds 5] [--packets]

"on" exports OTLP/HTTP to bench/otlp_sink.py (a child process that drops the
spans), so the batch processor's thread and the encoding are counted too:
``time.process_time`` covers every thread of the process. BENCH_NO_EXPORT=1:
"on" makes its spans and drops them in process (what export adds, by
difference). OTEL_PYTHON_DISABLED_INSTRUMENTATIONS and OTEL_TRACES_SAMPLER
apply to "on" as they would to a server."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
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


async def _round(app: Any, headers: list[tuple[bytes, bytes]], bodies: list[bytes]) -> float:
    """CPU seconds per request over ``bodies``, sent one after another."""
    start = time.process_time()
    for body in bodies:
        status, out = await asgi_post(app, headers, body)
        assert status == 200 and b"errors" not in out, out
    return (time.process_time() - start) / len(bodies)


async def main(requests: int, rounds: int, packets: bool) -> dict[str, Any]:
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
            for name, (depot_id, microgrid_id) in zip(("off", "on"), depots, strict=True):
                telemetry = Telemetry.from_environment(sink_url) if name == "on" else None
                if name == "on" and os.environ.get("BENCH_NO_EXPORT"):
                    telemetry = Telemetry(SpanProcessor())
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
            cpu: dict[str, list[float]] = {name: [] for name in sides}
            sent = 1000
            for r in range(rounds):
                names = list(sides)[r % 2 :] + list(sides)[: r % 2]
                for name in names:
                    app, make = sides[name]
                    bodies = [make(sent + n) for n in range(requests)]
                    sent += requests
                    cpu[name].append(await _round(app, headers, bodies))
            for container in containers:
                await container.close()
            containers.clear()
    finally:
        for container in containers:
            await container.close()
        stop(sink)
    off, on = (statistics.median(cpu[n]) * 1e3 for n in ("off", "on"))
    return {
        "what": "ingestSensorPacket" if packets else "recordCapabilityStatus",
        "off_ms": round(off, 2),
        "on_ms": round(on, 2),
        "on/off": round(on / off, 3),
        "rounds_ms": {n: [round(c * 1e3, 2) for c in v] for n, v in cpu.items()},
        "load": (round(load_before, 1), round(os.getloadavg()[0], 1)),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--packets", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.requests, args.rounds, args.packets))))
