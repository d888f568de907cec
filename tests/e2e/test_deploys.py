"""A deploy stops a real `microgrid serve` with SIGTERM (DESIGN §8): /readyz
fails at once while requests are still served, open WebSockets get 1001
(going away), the process exits 0, and nothing an ingest client was told is
accepted goes missing; what failed can be retried on the next process."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
import websockets

from tests.e2e.server import RunningServer, cli, serve
from tests.support import services

pytestmark = pytest.mark.e2e

CARD = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision } } }"""
RECORD = """mutation ($i: RecordCapabilityStatusInput!) { recordCapabilityStatus(input: $i) {
  __typename ... on CapabilityStatusRecorded { duplicate } } }"""
DEMO = """{ depots { edges { node { id name microgrid { id } } } } }"""
EXIT_WAIT_SECONDS = 60


def tokens(database_url: str) -> dict[str, str]:
    """The demo depot's, one token per role (``microgrid demo`` prints them)."""
    lines = cli(database_url, "demo").splitlines()
    return {line.split()[0]: line.split()[-1] for line in lines if line.split()[1:2] == ["token:"]}


async def demo_depot(server: RunningServer, token: str) -> dict:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            server.url, json={"query": DEMO}, headers={"Authorization": f"Bearer {token}"}
        )
    edges = response.json()["data"]["depots"]["edges"]
    return next(e["node"] for e in edges if e["node"]["name"] == "Demo Depot")


async def readyz(http: httpx.AsyncClient, server: RunningServer) -> tuple[int, str]:
    response = await http.get(f"{server.base}/readyz")
    return response.status_code, response.json()["status"]


async def until(predicate, what: str, seconds: float = 20) -> None:
    """Polls ``predicate`` (async) until it holds; nothing pushes these events."""
    async with asyncio.timeout(seconds):
        while not await predicate():
            await asyncio.sleep(0.05)


async def exit_code(server: RunningServer) -> int:
    return await asyncio.to_thread(server.process.wait, EXIT_WAIT_SECONDS)


async def silent_websocket(
    server: RunningServer,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket whose peer, once upgraded, neither reads nor answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    return reader, writer  # the writer too: dropping it would close the connection


async def test_sigterm_drains_then_closes_websockets_with_1001_and_exits_0(tmp_path):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'drain.db'}"
    token = tokens(database_url)["operator"]
    # A drain longer than the test: a second SIGTERM ends it once seen. The
    # grace is short: a silent peer holds the stop no longer than that.
    with serve(database_url, SHUTDOWN_DRAIN_SECONDS="120", SHUTDOWN_GRACE_SECONDS="2") as server:
        depot = await demo_depot(server, token)
        silent, _writer = await silent_websocket(server)
        async with (
            websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws,
            httpx.AsyncClient(timeout=10) as http,
        ):
            await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            subscribe = {"query": CARD, "variables": {"depotId": depot["id"]}}
            await ws.send(json.dumps({"id": "card", "type": "subscribe", "payload": subscribe}))
            first = json.loads(await ws.recv())
            assert first["payload"]["data"]["microgridCard"]["reason"] == "SNAPSHOT"
            assert await readyz(http, server) == (200, "ready")

            server.process.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                return await readyz(http, server) == (503, "draining")

            await until(draining, "/readyz to answer 503 draining")
            # Still serving while draining, and the subscription is still open.
            served = await http.post(
                server.url,
                json={"query": DEMO},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert served.status_code == 200 and served.headers["connection"] == "close"
            assert served.json()["data"]["depots"]["edges"]
            await ws.ping()

            server.process.send_signal(signal.SIGTERM)  # ends the drain now
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001  # going away: reconnect elsewhere
            assert await exit_code(server) == 0
            frame = await silent.read()  # what it was sent, up to the end of the connection
            assert frame[:1] == b"\x88" and frame[2:4] == (1001).to_bytes(2, "big")  # close
            with pytest.raises(httpx.ConnectError):
                await http.get(f"{server.base}/readyz")


# --- the ingest burst -------------------------------------------------------

CLIENTS = 6
SUCCESSES_BEFORE_SIGTERM = 40


@dataclass
class Burst:
    microgrid_id: str
    token: str
    accepted: list[str] = field(default_factory=list)
    """providerEventRefs answered 2xx with the event recorded."""
    failed: dict[str, str] = field(default_factory=dict)
    """providerEventRef -> how it failed, for each that may be retried."""
    unexpected: list[str] = field(default_factory=list)
    accepted_while_draining: int = 0
    draining: bool = False


def status_input(microgrid_id: str, ref: str) -> dict:
    return {
        "i": {
            "microgridId": microgrid_id,
            "capability": "DER",
            "value": True,
            "observedAt": datetime.now(UTC).isoformat(),
            "providerEventRef": ref,
        }
    }


async def post_status(http: httpx.AsyncClient, url: str, burst: Burst, ref: str) -> str | None:
    """None when the event was recorded, else why it may be retried."""
    try:
        response = await http.post(
            url,
            json={"query": RECORD, "variables": status_input(burst.microgrid_id, ref)},
            headers={"Authorization": f"Bearer {burst.token}"},
        )
    except httpx.ConnectError as error:  # refused: nothing was sent
        return f"connect: {type(error).__name__}"
    except (httpx.RemoteProtocolError, httpx.ReadError) as error:  # closed before any answer
        return f"disconnected: {type(error).__name__}"
    body = response.json()
    if response.status_code == 200 and not body.get("errors"):
        result = body["data"]["recordCapabilityStatus"]
        if result == {"__typename": "CapabilityStatusRecorded", "duplicate": False}:
            return None
    extensions = (body.get("errors") or [{}])[0].get("extensions", {})
    if extensions.get("code") == "SERVICE_UNAVAILABLE" and extensions.get("retryable") is True:
        return "503 SERVICE_UNAVAILABLE"
    burst.unexpected.append(f"{ref}: {response.status_code} {body}")
    return "unexpected"


async def ingest_client(server: RunningServer, burst: Burst, client: int) -> None:
    """Posts statuses one after another until the server refuses connections
    (its listener is closed: it will accept nothing more) or is gone."""
    async with httpx.AsyncClient(timeout=30) as http:
        for n in range(100_000):
            if server.process.poll() is not None:
                return
            ref = f"burst-{client}-{n}"
            outcome = await post_status(http, server.url, burst, ref)
            if outcome is None:
                burst.accepted.append(ref)
                burst.accepted_while_draining += burst.draining
            else:
                burst.failed[ref] = outcome
                if outcome.startswith("connect"):
                    return


async def stored(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT idempotency_key, count(*) AS n FROM events"
            " WHERE idempotency_key LIKE 'DER:burst-%' GROUP BY idempotency_key"
        )
    finally:
        await conn.close()
    return {row["idempotency_key"].removeprefix("DER:"): row["n"] for row in rows}


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL, asyncpg DSN) of a new, empty database of this test's own."""
    with services.fresh_postgres(migrate=False) as database:
        yield database


def test_sigterm_mid_burst_loses_no_accepted_ingest_and_every_failure_retries_once(
    own_postgres,
):
    database_url, dsn = own_postgres
    asyncio.run(_burst_then_retry(database_url, dsn, tokens(database_url)))


async def _burst_then_retry(database_url: str, dsn: str, token: dict[str, str]) -> None:
    with serve(database_url, SHUTDOWN_DRAIN_SECONDS="2") as first:
        depot = await demo_depot(first, token["operator"])
        burst = Burst(depot["microgrid"]["id"], token["integration"])
        clients = [asyncio.create_task(ingest_client(first, burst, c)) for c in range(CLIENTS)]

        async def enough_accepted() -> bool:
            return len(burst.accepted) >= SUCCESSES_BEFORE_SIGTERM

        await until(enough_accepted, "the burst to get going", seconds=40)
        first.process.send_signal(signal.SIGTERM)
        async with httpx.AsyncClient(timeout=10) as http:

            async def draining() -> bool:
                return await readyz(http, first) == (503, "draining")

            await until(draining, "/readyz to answer 503 draining")
        burst.draining = True
        await asyncio.gather(*clients)
        assert await exit_code(first) == 0

    assert burst.unexpected == []
    assert burst.accepted_while_draining > 0, "the drain still serves requests"
    assert burst.failed, "the burst went on until the listener closed"
    in_database = await stored(dsn)
    # Every ingest answered 2xx is there, exactly once; no failed one was half done.
    assert {ref: in_database.get(ref) for ref in burst.accepted} == dict.fromkeys(burst.accepted, 1)
    assert set(in_database) == set(burst.accepted)

    with serve(database_url) as second:
        async with httpx.AsyncClient(timeout=30) as http:
            retried = {ref: await post_status(http, second.url, burst, ref) for ref in burst.failed}
    assert burst.unexpected == []
    assert retried == dict.fromkeys(burst.failed)
    everything = await stored(dsn)
    assert everything == dict.fromkeys([*burst.accepted, *burst.failed], 1)
