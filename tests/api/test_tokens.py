"""Token lifecycle: expiry, revocation, and open WebSockets closed on revocation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import websockets

from domain.access import Role
from persistence.tokens import list_tokens, revoke_token
from tests.support.graphql import GraphQLClient
from tests.support.live_server import live_server
from tests.support.ws import WsClient

QUERY = "{ viewer { role } }"


async def test_a_revoked_token_is_refused_on_its_next_request(http, container, clock):
    issued = await container.tokens.issue(Role.OPERATOR, (), clock.now())
    client = GraphQLClient(http, issued.token)
    assert (await client.execute(QUERY))["viewer"]["role"] == "operator"

    assert await revoke_token(container.engine, issued.id, clock.now())
    assert not await revoke_token(container.engine, issued.id, clock.now()), "only once"

    refused = await client.raw(QUERY)
    assert refused.status_code == 401
    states = {t.id: t.state(clock.now()) for t in await list_tokens(container.engine)}
    assert states[issued.id] == "revoked"


async def test_an_expired_token_is_refused(http, container, clock):
    issued = await container.tokens.issue(
        Role.ADMIN, (), clock.now(), expires_at=clock.now() + timedelta(seconds=30)
    )
    client = GraphQLClient(http, issued.token)
    assert (await client.raw(QUERY)).status_code == 200
    clock.advance(31)
    assert (await client.raw(QUERY)).status_code == 401


@pytest.mark.stores("sqlite")
async def test_an_open_websocket_is_closed_4403_within_five_seconds_of_revocation(container, store):
    issued = await container.tokens.issue(Role.OPERATOR, (), datetime.now(UTC))
    async with live_server(container) as url:
        ws = await WsClient.connect(url, issued.token)
        await revoke_token(container.engine, issued.id, datetime.now(UTC))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.ws.recv(), 5)
        assert closed.value.rcvd.code == 4403
