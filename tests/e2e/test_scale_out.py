"""Several real server processes, one PostgreSQL, one Redis (DESIGN §3, §4)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.redis_server import PrivateRedis
from tests.e2e.server import cli, serve
from tests.support import services
from tests.support.ws import WsClient

pytestmark = pytest.mark.e2e

CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status freshness } } } }"""
CREATE = """mutation { createDepot(input: {name: "Scale", topLevelCircuits: [{name: "F"}]}) {
  ... on CreateDepotSuccess { depot { id } microgrid { id } } } }"""
RECORD = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""


def _shared_redis() -> str:
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as error:
        services.unavailable("Redis at 127.0.0.1:6379", error)
    return url


async def _gql(http: httpx.AsyncClient, url: str, token: str, query: str, variables=None):
    response = await http.post(
        url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def _status(microgrid_id: str, value: bool, ref: str) -> dict:
    return {
        "input": {
            "microgridId": microgrid_id,
            "capability": "DER",
            "value": value,
            "observedAt": datetime.now(UTC).isoformat(),
            "providerEventRef": ref,
        }
    }


@pytest.mark.stores("postgresql")
async def test_a_status_posted_to_one_process_reaches_a_subscriber_on_another(database_url):
    env = {"REDIS_URL": _shared_redis(), "REDIS_CHANNEL": f"test:{uuid.uuid4().hex}"}
    admin = cli(database_url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    ingest = cli(database_url, "tokens", "create", "--role", "integration").strip().splitlines()[-1]
    with serve(database_url, **env) as a, serve(database_url, **env) as b:
        async with httpx.AsyncClient(timeout=10) as http:
            created = (await _gql(http, a.url, admin, CREATE))["createDepot"]
            ws = await WsClient.connect(a.url.removesuffix("/graphql"), admin)
            await ws.subscribe(CARD_SUB, {"depotId": created["depot"]["id"]})
            snapshot = (await ws.data())["microgridCard"]
            assert snapshot["reason"] == "SNAPSHOT"

            await _gql(
                http, b.url, ingest, RECORD, _status(created["microgrid"]["id"], True, "from-b")
            )
            update = (await ws.data(timeout=10))["microgridCard"]
            assert update["reason"] == "CAPABILITY_STATUS"
            assert update["card"]["der"]["status"] == "ON"
            await ws.close()


async def test_cards_converge_while_redis_is_down_and_after_it_comes_back(tmp_path):
    """DESIGN §3: whatever happens to Redis, an open card follows the database."""
    redis_server = PrivateRedis(tmp_path)
    redis_server.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    admin = cli(url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    ingest = cli(url, "tokens", "create", "--role", "integration").strip().splitlines()[-1]
    try:
        with serve(url, REDIS_URL=redis_server.url) as server:
            base = server.url.removesuffix("/graphql")
            async with httpx.AsyncClient(timeout=10) as http:
                created = (await _gql(http, server.url, admin, CREATE))["createDepot"]
                microgrid_id = created["microgrid"]["id"]
                ws = await WsClient.connect(base, admin)
                await ws.subscribe(CARD_SUB, {"depotId": created["depot"]["id"]})
                assert (await ws.data())["microgridCard"]["card"]["der"]["status"] == "UNKNOWN"

                redis_server.stop()
                deadline = time.monotonic() + 15
                while (await http.get(f"{base}/readyz")).json()["checks"]["redis"] == "ok":
                    assert time.monotonic() < deadline, "readyz never noticed Redis was down"
                    await asyncio.sleep(0.1)
                degraded = await http.get(f"{base}/readyz")
                assert (degraded.status_code, degraded.json()["status"]) == (200, "degraded"), (
                    "without Redis the process still serves: it stays in the load balancer"
                )

                recorded = await _gql(
                    http, server.url, ingest, RECORD, _status(microgrid_id, False, "while-down")
                )
                assert recorded["recordCapabilityStatus"]["__typename"] == (
                    "CapabilityStatusRecorded"
                ), "ingest keeps committing without Redis"
                down = (await ws.data(timeout=10))["microgridCard"]
                assert down["card"]["der"]["status"] == "OFF"

                redis_server.start()
                while (await http.get(f"{base}/readyz")).json()["status"] != "ready":
                    assert time.monotonic() < deadline + 15, "readyz never saw Redis again"
                    await asyncio.sleep(0.1)
                await _gql(http, server.url, ingest, RECORD, _status(microgrid_id, True, "back"))
                back = (await ws.data(timeout=10))["microgridCard"]
                assert back["card"]["der"]["status"] == "ON"
                await ws.close()
    finally:
        redis_server.stop()
