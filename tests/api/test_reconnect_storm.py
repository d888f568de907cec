"""A reconnect storm is cheap (issue 17): a burst of screens opening their card
subscription with one token costs one token lookup and one card read, every
screen still gets the card as it is, and a revoked token is refused however
many screens ask at once. Over a real server (uvicorn) on both stores.

Token lookups are held by a gate until every screen of the burst has sent its
``connection_init``, so that the burst is a burst however slowly the machine
runs; what is counted are the SQL statements the server sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import event

from domain.access import Role
from persistence.tokens import TokenStore, revoke_token
from tests.api.helpers import new_depot
from tests.support.live_server import live_server

pytestmark = pytest.mark.stores("sqlite", "postgresql")

BURST = 12
CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status freshness } } } }"""
RECORD = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""


class GatedTokens(TokenStore):
    """The service's token store, with each lookup held until ``gate`` opens
    and the checks that arrived counted."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self.gate = asyncio.Event()
        self.gate.set()
        self.checks = 0

    async def authenticate(self, token: str, now: datetime) -> Any:
        self.checks += 1
        return await super().authenticate(token, now)

    async def _lookup(self, token_hash: str, now: datetime) -> Any:
        await self.gate.wait()
        return await super()._lookup(token_hash, now)


@pytest.fixture
def tokens(container) -> GatedTokens:
    gated = GatedTokens(container.engine)
    container.tokens = gated
    return gated


@contextmanager
def token_statements(container) -> Iterator[list[str]]:
    """The token lookups (by the token's hash) sent while the block runs; the
    revocation watch's sweep (by token id) and the revocation itself are not."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "api_tokens" in statement and "token_hash =" in statement:
            seen.append(statement)

    event.listen(container.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(container.engine.sync_engine, "before_cursor_execute", count)


async def _until(condition, seconds: float = 10) -> None:
    """Polls ``condition`` with a deadline (nothing else to wait for)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _burst(
    url: str, token: str, tokens: GatedTokens, count: int = BURST, release: bool = True
) -> list[Any]:
    """``count`` sockets whose ``connection_init`` all arrive while one lookup is
    held, released then (unless ``release`` is false: the caller opens the gate)."""
    sockets = await asyncio.gather(
        *(
            websockets.connect(
                url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
            )
            for _ in range(count)
        )
    )
    tokens.gate.clear()
    checks = tokens.checks
    init = json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    for ws in sockets:
        await ws.send(init)
    await _until(lambda: tokens.checks - checks == count)
    if release:
        tokens.gate.set()
    return sockets


async def _acked(ws: Any) -> None:
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"


async def _closed_with(ws: Any) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    return closed.value.rcvd.code


async def _subscribe(ws: Any, depot_id: str) -> None:
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": CARD_SUB, "variables": {"depotId": depot_id}},
            }
        )
    )


async def _card(ws: Any) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["type"] == "next", message
    assert not message["payload"].get("errors"), message
    return dict(message["payload"]["data"]["microgridCard"])


async def _metric(url: str, name: str) -> float:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/metrics")
    for line in response.text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_a_burst_of_screens_on_one_card_costs_one_token_lookup_and_one_card_read(
    container, admin, tokens, clock
):
    depot_id = (await new_depot(admin, "Storm", "Feeder"))["depot"]["id"]
    operator = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        reads_before = await _metric(url, "microgrid_card_reads_total")
        with token_statements(container) as lookups:
            screens = await _burst(url, operator, tokens)
            await asyncio.gather(*(_acked(ws) for ws in screens))
        assert len(lookups) == 1, f"{BURST} screens, one token lookup"

        for ws in screens:
            await _subscribe(ws, depot_id)
        snapshots = await asyncio.gather(*(_card(ws) for ws in screens))
        assert {s["reason"] for s in snapshots} == {"SNAPSHOT"}
        assert len({s["card"]["revision"] for s in snapshots}) == 1
        assert await _metric(url, "microgrid_card_reads_total") - reads_before == 1
        for ws in screens:
            await ws.close()


async def test_a_change_committed_during_a_burst_reaches_every_screen(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "Storm", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    operator = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        screens = await asyncio.gather(
            *(
                websockets.connect(
                    url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
                )
                for _ in range(BURST)
            )
        )
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {operator}"}}
        for ws in screens:
            await ws.send(json.dumps(init))
        await asyncio.gather(*(_acked(ws) for ws in screens))
        half = BURST // 2
        for ws in screens[:half]:
            await _subscribe(ws, depot_id)
        status = {
            "microgridId": microgrid_id,
            "capability": "DER",
            "value": True,
            "observedAt": clock.current.isoformat(),
            "providerEventRef": "mid-burst",
        }
        recorded = asyncio.ensure_future(integration.execute(RECORD, {"input": status}))
        for ws in screens[half:]:
            await _subscribe(ws, depot_id)
        await recorded

        async def sees_the_change(ws: Any) -> dict[str, Any]:
            card = await _card(ws)
            assert card["reason"] == "SNAPSHOT"
            while card["card"]["der"]["status"] != "ON":
                card = await _card(ws)
            return card

        seen = await asyncio.gather(*(sees_the_change(ws) for ws in screens))
        assert {c["card"]["der"]["freshness"] for c in seen} == {"FRESH"}
        assert len({c["card"]["revision"] for c in seen}) == 1
        for ws in screens:
            await ws.close()


@pytest.mark.stores("sqlite")
async def test_a_token_revoked_during_a_burst_is_refused_to_every_screen_and_closes_the_open_ones(
    container, admin, tokens, store
):
    depot_id = (await new_depot(admin, "Storm", "Feeder"))["depot"]["id"]
    issued = await container.tokens.issue(Role.OPERATOR, (), datetime.now(UTC))
    async with live_server(container) as url:
        open_screens = await _burst(url, issued.token, tokens)
        await asyncio.gather(*(_acked(ws) for ws in open_screens))
        for ws in open_screens:
            await _subscribe(ws, depot_id)
        await asyncio.gather(*(_card(ws) for ws in open_screens))

        with token_statements(container) as lookups:
            # The second burst's lookup is held until the revocation has committed.
            late = await _burst(url, issued.token, tokens, release=False)
            assert await revoke_token(container.engine, issued.id, datetime.now(UTC))
            tokens.gate.set()
            codes = await asyncio.gather(*(_closed_with(ws) for ws in late))
        assert set(codes) == {4403}, "refused: the shared lookup ran after the revocation"
        assert len(lookups) == 1

        # Open screens are closed by the revocation watch, as before.
        assert set(await asyncio.gather(*(_closed_with(ws) for ws in open_screens))) == {4403}

        # And nothing remembered the token as good: a lone screen is refused too.
        (alone,) = await _burst(url, issued.token, tokens, count=1)
        assert await _closed_with(alone) == 4403
