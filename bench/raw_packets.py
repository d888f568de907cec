"""Baseline for the packet benchmark: a minimal Starlette endpoint that takes
the same sensor packet as ingestSensorPacket (all nine controller keys, the
device's four sensor actions) and sends the same SQL statements, with the
same Redis publish, but no GraphQL, no domain layer and no SQLAlchemy.

Statements (the service's own, imported from persistence/ingest_on_asyncpg.py
so the two cannot drift): the token lookup on its own connection; then in one
transaction: the packet's lookups (device, actions, gateway, circuit, power
sources) in one read, hold the binding's stream, its latest statuses, the
packet's events by idempotency key, append the events (and move the stream),
upsert the latest, the binding's last report, the power source's state, the
circuit's capacity report, bump the revision, the readings, the capacity
report, the packet; commit; one notice.

It handles only what the benchmark sends: a valid packet, a device with a
binding, one battery, a circuit. Run: uvicorn bench.raw_packets:app"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.raw_ingest import principal_of
from persistence import ingest_on_asyncpg as statements
from persistence.reading_store import READING_COLUMNS

DSN = os.environ["RAW_DSN"]
REDIS_URL = os.environ["REDIS_URL"]
CHANNEL = os.environ.get("REDIS_CHANNEL", "microgrid:changes")
CAPABILITY_KEYS = {"PEAK_SHAVING": "LIMIT_PEAK_SHAVING", "DER": "LIMIT_DER_EXPORT"}
state: dict[str, object] = {}


def _us(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution


async def ingest(request: Request) -> JSONResponse:
    pool: asyncpg.Pool = state["pool"]  # type: ignore[assignment]
    principal = await principal_of(request, pool)
    if principal is None:
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    packet = await request.json()
    device_id = uuid.UUID(packet["device_id"])
    observed = datetime.fromtimestamp(packet["timestamp"] / 1000, UTC)
    values = {m["key"]: m["value"] for s in packet["sensors"] for m in s["measurands"]}
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        facts = await conn.fetchrow(statements.PACKET_FACTS, [device_id], None)
        if not facts["devices"]:
            return JSONResponse({"error": "not found"}, status_code=404)
        device = facts["devices"][0]
        binding = next(a for a in facts["actions"] if a["type"] == "UPDATE_MICROGRID_STATE")
        microgrid_id = binding["microgrid_id"]
        source = facts["power_sources"][0]
        circuit = facts["circuits"][0]
        capabilities = binding["capabilities"]
        if isinstance(capabilities, str):
            capabilities = json.loads(capabilities)
        owned = [c for c in CAPABILITY_KEYS if c in capabilities]
        [(_, last)] = await conn.fetch(statements.LOCK_STREAMS, [microgrid_id])
        latest = {
            r["capability"]: r
            for r in await conn.fetch(
                "SELECT * FROM capability_latest WHERE microgrid_id = ANY($1::uuid[])",
                [microgrid_id],
            )
        }
        keys = {c: f"{c}:{device_id}:{packet['timestamp']}:{CAPABILITY_KEYS[c]}" for c in owned}
        found = await conn.fetch(
            statements.FIND_MANY, [microgrid_id] * len(keys), list(keys.values())
        )
        recorded = {r["idempotency_key"] for r in found}
        events: list[dict[str, Any]] = []
        for capability in owned:
            if keys[capability] in recorded:
                continue
            last += 1
            current = latest.get(capability)
            applied = current is None or (observed, last) > (
                current["observed_at"],
                current["sequence"],
            )
            value = values[CAPABILITY_KEYS[capability]] == "true"
            ref = keys[capability].split(":", 1)[1]
            events.append(
                {
                    "id": uuid.uuid4(),
                    "sequence": last,
                    "capability": capability,
                    "key": keys[capability],
                    "value": value,
                    "ref": ref,
                    "applied": applied,
                    "payload": json.dumps(
                        {
                            "capability": capability,
                            "value": value,
                            "observedAt": observed.isoformat(),
                            "providerEventRef": ref,
                            "sourceDeviceId": str(device_id),
                            "appliedToLatest": applied,
                        }
                    ),
                }
            )
        if events:
            n = len(events)
            await conn.execute(
                statements.APPEND_ALL,
                [e["id"] for e in events],
                [microgrid_id] * n,
                [e["sequence"] for e in events],
                ["CapabilityStatusRecorded"] * n,
                [e["capability"] for e in events],
                [e["key"] for e in events],
                [e["payload"] for e in events],
                [now] * n,
                [observed] * n,
                [e["value"] for e in events],
                [microgrid_id],
                [last],
            )
            put = [e for e in events if e["applied"]]
            await conn.execute(
                statements.PUT_LATEST_ALL,
                [microgrid_id] * len(put),
                [e["capability"] for e in put],
                [e["id"] for e in put],
                [e["sequence"] for e in put],
                [e["value"] for e in put],
                [observed] * len(put),
                [now] * len(put),
                [e["ref"] for e in put],
                [device_id] * len(put),
            )
            await conn.execute(statements.RECORD_LAST_REPORTED, [binding["id"]], [observed])
        newer_source = source["updated_at"] is None or source["updated_at"] <= observed
        if newer_source:
            await conn.execute(
                statements.RECORD_POWER_SOURCE_STATES,
                [source["id"]],
                [values["DEVICE_POWER_STATE"]],
                [values["BESS_OPERATIONAL_MODE"].upper()],
                [float(values["SOC"])],
                [float(values["TOTAL_POWER_LOAD"])],
                [observed],
            )
        reported = circuit["capacity_observed_at"]
        newer_report = reported is None or reported <= observed
        if newer_report:
            await conn.execute(
                statements.RECORD_CAPACITY_REPORTS,
                [circuit["id"]],
                [float(values["AVAILABLE_CHARGING_CAPACITY"])],
                [float(values["FAIL_SAFE_CAPACITY"])],
                [values["HEARTBEAT_STATUS"]],
                [observed],
                [now],
            )
        revisions = await conn.fetch(
            statements.BUMP_REVISIONS, [microgrid_id], [device["depot_id"]]
        )
        at = _us(observed)
        available = float(values["AVAILABLE_CHARGING_CAPACITY"])
        rows = []
        if newer_source:
            rows.append((source["id"], float(values["TOTAL_POWER_LOAD"]), float(values["SOC"])))
        reading_values = {"load_w": 1, "soc_percent": 2}
        if rows or newer_report:
            subjects = [r[0] for r in rows] + ([circuit["id"]] if newer_report else [])
            arrays = []
            for column in READING_COLUMNS:
                col = [
                    r[reading_values[column]] if column in reading_values else None for r in rows
                ]
                if newer_report:
                    col.append(
                        {
                            "available_w": available,
                            "fail_safe_w": float(values["FAIL_SAFE_CAPACITY"]),
                            "effective_w": available,
                        }.get(column)
                    )
                arrays.append(col)
            await conn.execute(
                statements.INSERT_READINGS,
                [device["depot_id"]] * len(subjects),
                subjects,
                [at] * len(subjects),
                *arrays,
            )
        if newer_report:
            await conn.execute(
                statements.INSERT_REPORTS,
                [device["depot_id"]],
                [circuit["id"]],
                [at],
                [available],
                [float(values["FAIL_SAFE_CAPACITY"])],
                [values["HEARTBEAT_STATUS"]],
            )
        outcomes = [
            {"action": a["type"], "outcome": "APPLIED", "code": "APPLIED"} for a in facts["actions"]
        ]
        await conn.execute(
            statements.INSERT_PACKETS,
            [uuid.uuid4()],
            [device_id],
            [observed],
            [now],
            [json.dumps(packet)],
            [json.dumps(outcomes)],
        )
    redis: Redis = state["redis"]  # type: ignore[assignment]
    for r in revisions:
        await redis.publish(
            CHANNEL, json.dumps({"m": str(r["id"]), "r": "CAPACITY", "v": r["revision"], "e": None})
        )
    return JSONResponse({"outcomes": outcomes})


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    state["pool"] = await asyncpg.create_pool(DSN, min_size=2, max_size=30)
    state["redis"] = Redis.from_url(REDIS_URL)
    yield


app = Starlette(routes=[Route("/ingest", ingest, methods=["POST"])], lifespan=lifespan)
