"""The real `microgrid serve` process, spoken to over TCP by real clients."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e


@pytest.fixture
def server_db(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    cli(url, "demo")
    admin = cli(url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    return url, admin


async def test_http_and_graphql_transport_ws_against_a_running_server(server_db):
    url, admin = server_db
    with serve(url) as server:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(server.url.replace("/graphql", "/healthz"))).json() == {
                "status": "ok"
            }
            unauthenticated = await http.post(
                server.url, json={"query": "{ depots { edges { cursor } } }"}
            )
            assert unauthenticated.status_code == 401
            created = await http.post(
                server.url,
                headers={"Authorization": f"Bearer {admin}"},
                json={
                    "query": 'mutation { createDepot(input: {name: "E2E",'
                    ' topLevelCircuits: [{name: "Feeder"}]}) {'
                    " ... on CreateDepotSuccess { microgrid { id } } } }"
                },
            )
            assert created.json()["data"]["createDepot"]["microgrid"]["id"]

        transport = WebsocketsTransport(
            url=server.ws_url,
            init_payload={"Authorization": f"Bearer {admin}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=transport) as session:
            result = await session.execute(
                gql("{ depots { edges { node { name microgrid { version } } } } }")
            )
        names = sorted(e["node"]["name"] for e in result["depots"]["edges"])
        assert names == ["Demo Depot", "E2E"]


async def test_a_websocket_without_a_valid_token_is_closed_4403(server_db):
    url, _admin = server_db
    with serve(url) as server:
        async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": "Bearer mgs_wrong"}}
                )
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd.code == 4403
