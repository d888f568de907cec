"""Where one `recordCapabilityStatus` (or, with --packets, one
`ingestSensorPacket` with all four sensor actions) spends its time, measured
in process.

    .venv/bin/python -m bench.profile_ingest [--requests 500] [--html out.html] [--packets]

Builds the real ASGI app on a fresh PostgreSQL database (Redis broker when
BENCH_REDIS_URL or the default local Redis answers), drives it directly with
ASGI messages (no client, no sockets, so the profile holds only server work),
counts SQL statements per request and prints a pyinstrument profile."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from pyinstrument import Profiler
from sqlalchemy import event

from app.asgi import create_app
from app.container import build_container
from app.settings import Settings
from bench.depots import provisioned_depots
from bench.packets import BIND, CONFIGURE, OTHER_ACTIONS, SETUP_SITE, packet_request
from bench.serving import cli
from bench.statuses import ingest_request
from bench.stores import Database, redis_url


async def asgi_post(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    """One HTTP POST /graphql straight through the ASGI callable."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def _packet_site(
    app: Any, admin_headers: list[tuple[bytes, bytes]], dsn: str, depot_id: str, microgrid_id: str
) -> str:
    """bench/packets.py's site, set up through the ASGI app: the device id."""
    conn = await asyncpg.connect(dsn)
    feeder = str(
        await conn.fetchval(
            "SELECT id FROM circuits WHERE depot_id = $1 ORDER BY position LIMIT 1",
            uuid.UUID(depot_id),
        )
    )
    await conn.close()

    async def post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        status, out = await asgi_post(
            app, admin_headers, json.dumps({"query": query, "variables": variables}).encode()
        )
        assert status == 200 and b"errors" not in out, out
        return dict(json.loads(out)["data"])

    made = await post(SETUP_SITE, {"d": depot_id, "c": feeder})
    device_id = str(made["dev"]["id"])
    binding = {
        "microgridId": microgrid_id,
        "deviceId": device_id,
        "capabilities": ["DER", "PEAK_SHAVING"],
    }
    await post(BIND, {"i": binding})
    for action in OTHER_ACTIONS:
        await post(CONFIGURE, {"i": {"deviceId": device_id, "type": action}})
    return device_id


async def main(requests: int, html: str | None, packets: bool = False) -> None:
    async with Database() as db:
        [(depot_id, microgrid_id)], token, _ = await provisioned_depots(db)
        settings = Settings(
            database_url=db.url,
            redis_url=redis_url(),
            redis_channel=f"bench:{uuid.uuid4().hex}",
        )
        container = build_container(settings)
        app = create_app(container)
        statements = 0

        def count(*_: object) -> None:
            nonlocal statements
            statements += 1

        event.listen(container.engine.sync_engine, "before_cursor_execute", count)
        headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {token}".encode()),
        ]

        def body(n: int) -> bytes:
            return json.dumps(ingest_request(microgrid_id, n)).encode()

        await container.start()
        try:
            if packets:
                admin = cli(db.url, "tokens", "create", "--role", "admin").split()[-1]
                admin_headers = [*headers[:2], (b"authorization", f"Bearer {admin}".encode())]
                device_id = await _packet_site(app, admin_headers, db.dsn, depot_id, microgrid_id)
                base_ms = int(time.time() * 1000) - 10**7

                def body(n: int) -> bytes:
                    return json.dumps(packet_request(device_id, base_ms + n, n)).encode()

            for n in range(50):
                status, out = await asgi_post(app, headers, body(n))
                assert status == 200 and b"errors" not in out, out
            statements = 0
            profiler = Profiler(interval=0.0002, async_mode="enabled")
            start = time.perf_counter()
            with profiler:
                for n in range(requests):
                    await asgi_post(app, headers, body(1000 + n))
            elapsed = time.perf_counter() - start
        finally:
            await container.close()
    what = "ingestSensorPacket (all four actions)" if packets else "recordCapabilityStatus"
    print(
        f"{requests} sequential {what}: {elapsed / requests * 1e3:.2f} ms each "
        f"(profiled), {statements / requests:.1f} SQL statements per request"
    )
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    if html:
        Path(html).write_text(profiler.output_html())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--html")
    parser.add_argument("--packets", action="store_true", help="profile ingestSensorPacket")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.html, args.packets))
