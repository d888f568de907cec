"""A small graphql-transport-ws client for tests that need to see raw frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.typing import Subprotocol


class WsClient:
    def __init__(self, connection: Any) -> None:
        self.ws = connection
        self._ids = 0

    @classmethod
    async def connect(cls, url: str, token: str) -> WsClient:
        ws = await websockets.connect(
            url.replace("http", "ws") + "/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
        )
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert ack["type"] == "connection_ack", ack
        return cls(ws)

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        op_id = str(self._ids)
        await self.ws.send(
            json.dumps(
                {
                    "id": op_id,
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )
        return op_id

    async def next(self, timeout: float = 5) -> dict[str, Any]:
        """The next ``next`` or ``error`` message (pings are answered)."""
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message["type"] == "complete":
                continue
            return dict(message)

    @staticmethod
    def errors(message: dict[str, Any]) -> list[dict[str, Any]]:
        """The GraphQL errors of a ``next`` or ``error`` message."""
        payload = message["payload"]
        return list(payload["errors"] if message["type"] == "next" else payload)

    async def data(self, timeout: float = 5) -> dict[str, Any]:
        message = await self.next(timeout)
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message["payload"]["errors"]
        return dict(message["payload"]["data"])

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message: {message}")

    async def close(self) -> None:
        await self.ws.close()
