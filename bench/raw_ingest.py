"""Baseline for the ingest benchmark: a minimal Starlette endpoint sending the
same SQL statements as one recordCapabilityStatus (token lookup on its own
connection; then in one transaction: the microgrid's depot, reserve sequence,
idempotency check, read latest, the binding's stale threshold, insert event,
upsert latest, bump revision) and the same Redis publish, with no GraphQL, no
domain layer and no SQLAlchemy. Run: uvicorn bench.raw_ingest:app"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DSN = os.environ["RAW_DSN"]
REDIS_URL = os.environ["REDIS_URL"]
CHANNEL = os.environ.get("REDIS_CHANNEL", "microgrid:changes")
state: dict[str, object] = {}


async def principal_of(request: Request, pool: asyncpg.Pool) -> asyncpg.Record | None:
    """The bearer token's row, as the service's token lookup reads it (one statement)."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT id, role, depot_ids FROM api_tokens WHERE token_hash = $1"
            " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
            hashlib.sha256(token.encode()).hexdigest(),
            datetime.now(UTC),
        )


async def ingest(request: Request) -> JSONResponse:
    pool: asyncpg.Pool = state["pool"]  # type: ignore[assignment]
    principal = await principal_of(request, pool)
    if principal is None:
        return JSONResponse({"error": "unauthenticated"}, status_code=401)
    body = await request.json()
    microgrid_id = uuid.UUID(body["microgridId"])
    capability, value, ref = body["capability"], bool(body["value"]), body["providerEventRef"]
    observed = datetime.fromisoformat(body["observedAt"])
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        depot_id = await conn.fetchval(
            "SELECT depot_id FROM microgrids WHERE id = $1 AND retired_at IS NULL", microgrid_id
        )
        if depot_id is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        seq = await conn.fetchval(
            "INSERT INTO event_streams (stream_id, last_sequence) VALUES ($1, 1) "
            "ON CONFLICT (stream_id) DO UPDATE SET last_sequence = event_streams.last_sequence + 1"
            " RETURNING last_sequence",
            microgrid_id,
        )
        key = f"{capability}:{ref}"
        if await conn.fetchval(
            "SELECT 1 FROM events WHERE stream_id = $1 AND idempotency_key = $2", microgrid_id, key
        ):
            return JSONResponse({"duplicate": True})
        current = await conn.fetchrow(
            "SELECT observed_at, sequence FROM capability_latest "
            "WHERE microgrid_id = $1 AND capability = $2",
            microgrid_id,
            capability,
        )
        await conn.fetch(
            "SELECT * FROM sensor_actions WHERE microgrid_id = ANY($1::uuid[])"
            " AND type = 'UPDATE_MICROGRID_STATE'",
            [microgrid_id],
        )
        applied = current is None or (observed, seq) > (current["observed_at"], current["sequence"])
        event_id = uuid.uuid4()
        payload = {
            "capability": capability,
            "value": value,
            "observedAt": observed.isoformat(),
            "providerEventRef": ref,
            "sourceDeviceId": None,
            "appliedToLatest": applied,
        }
        await conn.execute(
            "INSERT INTO events (id, stream_id, sequence, event_type, subject, idempotency_key,"
            " payload, recorded_at, observed_at, value) VALUES ($1, $2, $3,"
            " 'CapabilityStatusRecorded', $4, $5, $6::json, $7, $8, $9)",
            event_id,
            microgrid_id,
            seq,
            capability,
            key,
            json.dumps(payload),
            now,
            observed,
            value,
        )
        if applied:
            await conn.execute(
                "INSERT INTO capability_latest (microgrid_id, capability, event_id, sequence,"
                " value, observed_at, received_at, provider_event_ref) VALUES ($1, $2, $3, $4,"
                " $5, $6, $7, $8) ON CONFLICT (microgrid_id, capability) DO UPDATE SET"
                " event_id = EXCLUDED.event_id, sequence = EXCLUDED.sequence,"
                " value = EXCLUDED.value, observed_at = EXCLUDED.observed_at,"
                " received_at = EXCLUDED.received_at,"
                " provider_event_ref = EXCLUDED.provider_event_ref",
                microgrid_id,
                capability,
                event_id,
                seq,
                value,
                observed,
                now,
                ref,
            )
        revision = await conn.fetchval(
            "UPDATE microgrids SET revision = revision + 1 WHERE id = $1 RETURNING revision",
            microgrid_id,
        )
    redis: Redis = state["redis"]  # type: ignore[assignment]
    await redis.publish(
        CHANNEL,
        json.dumps(
            {"m": str(microgrid_id), "r": "CAPABILITY_STATUS", "v": revision, "e": str(event_id)}
        ),
    )
    return JSONResponse({"sequence": seq, "applied": applied})


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    state["pool"] = await asyncpg.create_pool(DSN, min_size=2, max_size=10)
    state["redis"] = Redis.from_url(REDIS_URL)
    yield


app = Starlette(routes=[Route("/ingest", ingest, methods=["POST"])], lifespan=lifespan)
