"""Soak: mixed ingest, queries and live card subscriptions against a real
`microgrid serve` on PostgreSQL + Redis. Bounded in time and requests,
loopback only.

    .venv/bin/python -m bench.soak --seconds 60 --subscribers 500

Reports errors (must be 0), lost updates (must be 0: every subscriber's last
card equals the final database state) and the server's resident memory at
start and end. One extra subscriber stalls (never reads): the server must drop
it rather than buffer for it."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import websockets

from bench.depots import provisioned_depots
from bench.rawhttp import RawHttpConnection
from bench.serving import serve
from bench.stores import Database, redis_url

CARD_SUB = """subscription ($d: ID!) { microgridCard(depotId: $d) {
  reason card { revision der { status } peakShaving { status } } } }"""
CARD = """query ($d: ID!) { microgridCard(depotId: $d) { ... on MicrogridCard {
  revision der { status } peakShaving { status } } } }"""
RECORD = """mutation ($i: RecordCapabilityStatusInput!) { recordCapabilityStatus(input: $i) {
  __typename } }"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Subscriber:
    def __init__(self, depot_id: str) -> None:
        self.depot_id = depot_id
        self.last: dict | None = None
        self.messages = 0
        self.errors: list[str] = []
        self.ws = None

    async def open(self, url: str, token: str) -> None:
        self.ws = await websockets.connect(
            url, subprotocols=["graphql-transport-ws"], max_queue=None, open_timeout=30
        )
        await self.ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        await self.ws.recv()
        await self.ws.send(
            json.dumps(
                {
                    "id": "card",
                    "type": "subscribe",
                    "payload": {"query": CARD_SUB, "variables": {"d": self.depot_id}},
                }
            )
        )

    async def listen(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message["type"] == "next" and "data" in message["payload"]:
                    self.last = message["payload"]["data"]["microgridCard"]["card"]
                    self.messages += 1
                elif message["type"] in ("error", "next"):
                    self.errors.append(json.dumps(message)[:200])
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 1000:
                self.errors.append(f"closed: {closed}")


async def soak(seconds: float, subscribers: int, depots: int) -> dict[str, object]:
    async with Database() as db:
        sites, integration, operator = await provisioned_depots(db, depots)
        env = {"REDIS_URL": redis_url(), "REDIS_CHANNEL": f"soak:{uuid.uuid4().hex}"}
        with serve(db.url, **env) as server:
            ws_url = server.url.replace("http", "ws")
            pid = server.process.pid
            subs = [Subscriber(sites[i % len(sites)][0]) for i in range(subscribers)]
            for i in range(0, len(subs), 50):
                await asyncio.gather(*(s.open(ws_url, operator) for s in subs[i : i + 50]))
            listeners = [asyncio.create_task(s.listen()) for s in subs]
            stalled = await websockets.connect(
                ws_url, subprotocols=["graphql-transport-ws"], max_queue=1
            )
            await stalled.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {operator}"}}
                )
            )
            await stalled.recv()
            await stalled.send(
                json.dumps(
                    {
                        "id": "s",
                        "type": "subscribe",
                        "payload": {"query": CARD_SUB, "variables": {"d": sites[0][0]}},
                    }
                )
            )
            await asyncio.sleep(2)
            rss_start = rss_kib(pid)
            errors: list[str] = []
            counters = {"ingest": 0, "query": 0}
            latencies: list[float] = []
            deadline = time.monotonic() + seconds
            base = int(datetime.now(UTC).timestamp())

            async def ingester(worker: int) -> None:
                http = RawHttpConnection(server.url, {"Authorization": f"Bearer {integration}"})
                n = 0
                while time.monotonic() < deadline:
                    depot_id, microgrid_id = sites[(worker + n) % len(sites)]
                    started = time.perf_counter()
                    status, body = await http.post_json(
                        {
                            "query": RECORD,
                            "variables": {
                                "i": {
                                    "microgridId": microgrid_id,
                                    "capability": "DER" if n % 2 else "PEAK_SHAVING",
                                    "value": bool((n // 2) % 2),
                                    "observedAt": datetime.fromtimestamp(
                                        base + n * 0.001 + worker, UTC
                                    ).isoformat(),
                                    "providerEventRef": f"soak-{worker}-{n}",
                                }
                            },
                        }
                    )
                    latencies.append(time.perf_counter() - started)
                    if status != 200 or body.get("errors"):
                        errors.append(f"ingest {status}: {str(body)[:200]}")
                    counters["ingest"] += 1
                    n += 1
                    await asyncio.sleep(0.05)
                await http.close()

            async def reader(worker: int) -> None:
                http = RawHttpConnection(server.url, {"Authorization": f"Bearer {operator}"})
                n = 0
                while time.monotonic() < deadline:
                    status, body = await http.post_json(
                        {"query": CARD, "variables": {"d": sites[(worker + n) % len(sites)][0]}}
                    )
                    if status != 200 or body.get("errors"):
                        errors.append(f"query {status}: {str(body)[:200]}")
                    counters["query"] += 1
                    n += 1
                    await asyncio.sleep(0.1)
                await http.close()

            samples: list[float] = []

            async def sample_memory() -> None:
                while time.monotonic() < deadline:
                    samples.append(round(rss_kib(pid) / 1024, 1))
                    await asyncio.sleep(seconds / 6)

            await asyncio.gather(
                *(ingester(w) for w in range(4)), *(reader(w) for w in range(2)), sample_memory()
            )
            await asyncio.sleep(5)  # let the last notices reach every subscriber
            rss_end = rss_kib(pid)
            final: dict[str, dict] = {}
            http = RawHttpConnection(server.url, {"Authorization": f"Bearer {operator}"})
            for depot_id, _m in sites:
                _s, body = await http.post_json({"query": CARD, "variables": {"d": depot_id}})
                final[depot_id] = body["data"]["microgridCard"]
            await http.close()
            lost = sum(1 for s in subs if s.last != final[s.depot_id])
            sub_errors = [e for s in subs for e in s.errors]
            for s in subs:
                await s.ws.close()
            for task in listeners:
                task.cancel()
            await stalled.close()
    return {
        "seconds": seconds,
        "subscribers": subscribers,
        "depots": depots,
        "ingests": counters["ingest"],
        "queries": counters["query"],
        "ingest_median_ms": round(statistics.median(latencies) * 1e3, 1) if latencies else None,
        "errors": len(errors) + len(sub_errors),
        "lost_updates": lost,
        "messages_received": sum(s.messages for s in subs),
        "rss_start_mib": round(rss_start / 1024, 1),
        "rss_end_mib": round(rss_end / 1024, 1),
        "rss_samples_mib": samples,
        "first_errors": (errors + sub_errors)[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--depots", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(soak(args.seconds, args.subscribers, args.depots))
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["errors"] == 0 and result["lost_updates"] == 0 else 1)


if __name__ == "__main__":
    main()
