"""app.drain in front of a small ASGI application: what a load balancer and
clients see once a process drains (the real server: tests/e2e/test_deploys.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from app.drain import Drain


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """200 "ok" over HTTP; a WebSocket that echoes until it is closed."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": message["text"]})


async def http(drain: Drain, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await drain({"type": "http", "path": path, "method": "GET"}, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


class Peer:
    """A WebSocket client as the server protocol sees it."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.accepted = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "websocket.accept":
            self.accepted.set()
        if message["type"] == "websocket.close":  # as uvicorn does: the app's receive ends
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    def connect(self, drain: Drain) -> asyncio.Task[None]:
        self.inbox.put_nowait({"type": "websocket.connect"})
        return asyncio.create_task(
            drain({"type": "websocket", "path": "/graphql"}, self.receive, self.send)
        )

    def closes(self) -> list[tuple[int, str]]:
        return [(m["code"], m["reason"]) for m in self.sent if m["type"] == "websocket.close"]


async def test_readyz_answers_503_draining_once_begun_and_the_rest_is_served():
    drain = Drain(ok_app)
    assert (await http(drain, "/readyz"))[0] == 200
    assert b"connection" not in (await http(drain, "/graphql"))[1]

    drain.begin()

    status, headers, body = await http(drain, "/readyz")
    assert (status, json.loads(body)["status"]) == (503, "draining")
    assert headers[b"connection"] == b"close"
    status, headers, body = await http(drain, "/graphql")
    assert (status, body, headers[b"connection"]) == (200, b"ok", b"close")


async def test_open_websockets_get_1001_and_later_ones_too():
    drain = Drain(ok_app)
    first, second = Peer(), Peer()
    tasks = [first.connect(drain), second.connect(drain)]
    await asyncio.gather(first.accepted.wait(), second.accepted.wait())
    first.inbox.put_nowait({"type": "websocket.receive", "text": "hello"})
    assert drain.open_websockets == 2

    await drain.close_websockets()
    await asyncio.gather(*tasks)

    assert {"type": "websocket.send", "text": "hello"} in first.sent
    for peer in (first, second):
        assert peer.closes() == [(1001, "Server shutting down: reconnect")]
    assert drain.open_websockets == 0

    late = Peer()
    await late.connect(drain)
    assert late.closes() == [(1001, "Server shutting down: reconnect")]


async def test_what_the_application_sends_after_the_drain_closed_its_socket_is_dropped():
    done = asyncio.Event()

    async def chatty(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await done.wait()
        await send({"type": "websocket.send", "text": "too late"})
        await send({"type": "websocket.close", "code": 1000, "reason": ""})

    drain = Drain(chatty)
    peer = Peer()
    task = peer.connect(drain)
    await peer.accepted.wait()
    await drain.close_websockets()
    done.set()
    await task
    assert [m["type"] for m in peer.sent] == ["websocket.accept", "websocket.close"]
    assert peer.closes() == [(1001, "Server shutting down: reconnect")]
