"""graphql-transport-ws abuse is answered with the protocol's close codes."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from domain.access import Role
from tests.support.live_server import live_server

pytestmark = pytest.mark.stores("sqlite")
SUB = 'subscription { microgridCard(depotId: "00000000-0000-4000-8000-000000000000") { reason } }'


async def _closed_with(ws) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code


async def _connect(url):
    return await websockets.connect(
        url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]
    )


async def _init(ws, token):
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"


@pytest.fixture
async def server(container, settings, clock, store):
    container.settings = settings.model_copy(
        update={"ws_init_timeout_seconds": 0.5, "max_subscriptions_per_connection": 2}
    )
    token = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        yield url, token


async def test_no_connection_init_is_closed_4408(server):
    url, _token = server
    ws = await _connect(url)
    assert await _closed_with(ws) == 4408


async def test_a_second_init_is_closed_4429(server):
    url, token = server
    ws = await _connect(url)
    await _init(ws, token)
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert await _closed_with(ws) == 4429


async def test_subscribe_before_ack_is_closed_4401(server):
    url, _token = server
    ws = await _connect(url)
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB}}))
    assert await _closed_with(ws) == 4401


async def test_a_duplicate_operation_id_is_closed_4409(server, admin):
    url, token = server
    from tests.api.helpers import new_depot

    depot = await new_depot(admin, "D", "F")
    ws = await _connect(url)
    await _init(ws, token)
    live = json.dumps(
        {
            "id": "same",
            "type": "subscribe",
            "payload": {
                "query": "subscription ($d: ID!) { microgridCard(depotId: $d) { reason } }",
                "variables": {"d": depot["depot"]["id"]},
            },
        }
    )
    await ws.send(live)
    assert json.loads(await ws.recv())["type"] == "next"  # the snapshot: it is running
    await ws.send(live)
    assert await _closed_with(ws) == 4409


async def test_more_subscriptions_than_allowed_get_an_error(server, admin):
    url, token = server
    from tests.api.helpers import new_depot

    depot = await new_depot(admin, "D", "F")
    ws = await _connect(url)
    await _init(ws, token)
    for op_id in ("1", "2", "3"):
        await ws.send(
            json.dumps(
                {
                    "id": op_id,
                    "type": "subscribe",
                    "payload": {
                        "query": "subscription ($d: ID!) { microgridCard(depotId: $d) { reason } }",
                        "variables": {"d": depot["depot"]["id"]},
                    },
                }
            )
        )
    messages = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(3)]
    refused = [m for m in messages if m["type"] == "error"]
    assert [m["id"] for m in refused] == ["3"]
    (error,) = refused[0]["payload"]
    assert "subscriptions" in error["message"].lower()
    assert (error["extensions"]["code"], error["extensions"]["status"]) == (
        "TOO_MANY_SUBSCRIPTIONS",
        429,
    )


@pytest.mark.parametrize(
    "frame", ["not json", json.dumps({"type": "who-knows"}), json.dumps([1, 2])]
)
async def test_garbage_frames_are_closed_4400(server, frame):
    url, token = server
    ws = await _connect(url)
    await _init(ws, token)
    await ws.send(frame)
    assert await _closed_with(ws) == 4400


async def test_a_bad_token_in_init_is_closed_4403(server):
    url, _token = server
    ws = await _connect(url)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer mgs_nope"}})
    )
    assert await _closed_with(ws) == 4403
