"""Faults with nothing lost: PostgreSQL restarting under ingest, a server killed
mid-burst (DESIGN §3-§5, issue "Hardening")."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from persistence import schema_upgrade as migrations
from tests.e2e.private_postgres import PrivatePostgres
from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e
CREATE = """mutation { createDepot(input: {name: "Fault", topLevelCircuits: [{name: "F"}]}) {
  ... on CreateDepotSuccess { microgrid { id } } } }"""
RECORD = """mutation ($i: RecordCapabilityStatusInput!) { recordCapabilityStatus(input: $i) {
  __typename ... on CapabilityStatusRecorded { duplicate event { sequence } } } }"""


async def _post(http, url, token, query, variables=None):
    return await http.post(
        url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )


BASE = datetime.now(UTC).replace(microsecond=0)


def _observation(microgrid_id: str, n: int) -> dict:
    """Observation n, identical every time it is built, as a provider's retry is."""
    return {
        "i": {
            "microgridId": microgrid_id,
            "capability": "DER" if n % 2 else "PEAK_SHAVING",
            "value": bool(n % 3),
            "observedAt": (BASE + timedelta(seconds=n)).isoformat(),
            "providerEventRef": f"obs-{n}",
        }
    }


async def _record_until_accepted(http, url, token, variables, deadline, seen_errors):
    """A client that retries the same observation (same providerEventRef) until accepted."""
    while time.monotonic() < deadline:
        try:
            response = await _post(http, url, token, RECORD, variables)
        except httpx.TransportError as error:
            seen_errors.append(type(error).__name__)
            await asyncio.sleep(0.2)
            continue
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        errors = body.get("errors") or []
        if response.status_code == 200 and not errors:
            return body["data"]["recordCapabilityStatus"]
        codes = [e.get("extensions", {}).get("code") for e in errors]
        seen_errors.extend(codes or [f"HTTP {response.status_code}"])
        assert all(e.get("extensions", {}).get("retryable") for e in errors), errors
        await asyncio.sleep(0.2)
    raise AssertionError("the service did not recover in time")


async def _counts(dsn: str, microgrid_id: str) -> tuple[int, list[int], int]:
    conn = await asyncpg.connect(dsn)
    try:
        refs = await conn.fetchval(
            "SELECT count(DISTINCT idempotency_key) FROM events WHERE stream_id = $1",
            uuid.UUID(microgrid_id),
        )
        sequences = [
            r["sequence"]
            for r in await conn.fetch(
                "SELECT sequence FROM events WHERE stream_id = $1 ORDER BY sequence",
                uuid.UUID(microgrid_id),
            )
        ]
        latest = await conn.fetchval("SELECT count(*) FROM capability_latest")
    finally:
        await conn.close()
    return refs, sequences, latest


def test_a_postgresql_restart_during_ingest_loses_and_duplicates_nothing(tmp_path):
    pg = PrivatePostgres(tmp_path)
    pg.init()
    try:
        migrations.upgrade(pg.url)
        token = cli(pg.url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
        with serve(pg.url) as server:
            asyncio.run(_restart_under_load(pg, server.url, token))
    finally:
        pg.stop()


async def _restart_under_load(pg: PrivatePostgres, url: str, token: str) -> None:
    async with httpx.AsyncClient(timeout=15) as http:
        created = (await _post(http, url, token, CREATE)).json()
        microgrid_id = created["data"]["createDepot"]["microgrid"]["id"]
        seen_errors: list[str] = []
        deadline = time.monotonic() + 90
        total = 60

        async def burst() -> list[dict]:
            semaphore = asyncio.Semaphore(8)

            async def one(n: int) -> dict:
                async with semaphore:
                    await asyncio.sleep(0.02 * n)
                    return await _record_until_accepted(
                        http, url, token, _observation(microgrid_id, n), deadline, seen_errors
                    )

            return await asyncio.gather(*[one(n) for n in range(total)])

        task = asyncio.create_task(burst())
        await asyncio.sleep(0.4)
        await asyncio.to_thread(pg.restart)
        results = await task
        again = await _record_until_accepted(
            http, url, token, _observation(microgrid_id, 0), deadline, seen_errors
        )

    dsn = pg.url.replace("+asyncpg", "")
    refs, sequences, latest = await _counts(dsn, microgrid_id)
    assert refs == total, "exactly one event per observation"
    assert sequences == list(range(1, total + 1)), "gap-free, no duplicates"
    assert latest == 2
    assert again["duplicate"] is True
    assert len(results) == total
    assert seen_errors, "the restart was noticed by clients (retryable errors)"
    assert set(seen_errors) <= {
        "SERVICE_UNAVAILABLE",
        "ReadError",
        "RemoteProtocolError",
        "ConnectError",
        "HTTP 503",
    }, set(seen_errors)


@pytest.mark.stores("postgresql")
def test_a_server_killed_mid_burst_leaves_only_whole_transactions(database_url):
    token = cli(database_url, "tokens", "create", "--role", "integration").strip().splitlines()[-1]
    admin = cli(database_url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    with serve(database_url) as server:
        microgrid_id = asyncio.run(_create(server.url, admin))
        asyncio.run(_burst_then_kill(server, token, microgrid_id))
    dsn = database_url.replace("+asyncpg", "")
    before = asyncio.run(_projection(dsn))
    cli(database_url, "projections", "rebuild")
    after = asyncio.run(_projection(dsn))
    assert before == after, "the event store and the projection agreed"
    refs, sequences, _ = asyncio.run(_counts(dsn, microgrid_id))
    assert sequences == list(range(1, len(sequences) + 1)) and refs == len(sequences)


async def _create(url: str, token: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await _post(http, url, token, CREATE)).json()["data"]["createDepot"]["microgrid"][
            "id"
        ]


async def _burst_then_kill(server, token: str, microgrid_id: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:

        async def one(n: int) -> None:
            with contextlib.suppress(httpx.TransportError):
                await _post(http, server.url, token, RECORD, _observation(microgrid_id, n))

        tasks = [asyncio.create_task(one(n)) for n in range(200)]
        await asyncio.sleep(0.5)
        os.kill(server.process.pid, signal.SIGKILL)
        await asyncio.gather(*tasks)


async def _projection(dsn: str) -> list[tuple]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT microgrid_id, capability, event_id, sequence "
            "FROM capability_latest ORDER BY 1, 2"
        )
    finally:
        await conn.close()
    return [tuple(r) for r in rows]
