"""Draining a process before it stops: the ASGI side of a graceful shutdown.

Wrapped around the whole application by ``microgrid serve``. Once
:meth:`Drain.begin` is called (on SIGTERM or SIGINT, by
``app.uvicorn_shutdown``):

- ``GET /readyz`` answers 503 with ``{"status": "draining"}``, so a load
  balancer stops sending new work here, while everything else is still served;
- every HTTP response carries ``Connection: close``, so keep-alive clients
  open their next connection afresh (and a load balancer sends it elsewhere).

:meth:`Drain.close_websockets` then ends every open WebSocket with close code
1001 (going away), the code a browser and the graphql-transport-ws clients
take as "reconnect, possibly elsewhere". The application sees the close like
any other (its receive loop ends and its subscriptions are cleaned up);
anything it still sends on such a socket is dropped. A socket accepted after
that is closed the same way at once. Pure ASGI: nothing here knows uvicorn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from resolvers.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GOING_AWAY = 1001
GOING_AWAY_REASON = "Server shutting down: reconnect"
DRAINING_BODY = json.dumps({"status": "draining", "checks": {}}).encode()
STOPPING_BODY = json.dumps(
    error_body(
        "SERVICE_UNAVAILABLE",
        "Service unavailable",
        503,
        "The server stopped before this request finished; retry it (elsewhere).",
        retryable=True,
    )
).encode()


class _Socket:
    """One WebSocket as seen from outside the application."""

    __slots__ = ("accepted", "closed", "drained", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.accepted = False
        self.closed = False
        """A close was sent, by the application or the drain."""
        self.drained = False
        """The drain sent it."""

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = self.drained = True
        try:
            await self.send(
                {"type": "websocket.close", "code": GOING_AWAY, "reason": GOING_AWAY_REASON}
            )
        except Exception:  # the peer is gone already: nothing to tell it
            return


class Drain:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False
        self.closing = False
        self._sockets: set[_Socket] = set()

    def begin(self) -> None:
        """Start draining: /readyz fails from now on; requests are still served."""
        self.draining = True

    @property
    def open_websockets(self) -> int:
        return sum(1 for socket in self._sockets if socket.accepted and not socket.closed)

    async def close_websockets(self) -> None:
        """Close every open WebSocket with 1001, and any accepted from now on."""
        self.draining = self.closing = True
        await asyncio.gather(*(socket.close() for socket in list(self._sockets) if socket.accepted))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            if self.draining and scope["path"] == "/readyz":
                await _answer_503(send, DRAINING_BODY)
                return
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request; answered with ``Connection: close`` once draining. One
        still running when the grace runs out is cancelled by the server; its
        client is then told to retry (a retryable 503) instead of getting a
        bare 500 with a traceback in the log. Anything it committed before is
        kept, so a retry with the same idempotency key is a duplicate."""
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if self.draining:
                    message = _with_connection_close(message)
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except asyncio.CancelledError:
            if not self.closing:
                raise
            # The server cancels what is left at the grace's end and waits
            # for nothing after: ending here lets the answer go out.
            if not started:
                await _answer_503(send, STOPPING_BODY, (b"retry-after", b"1"))

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        socket = _Socket(send)

        async def guarded_send(message: Message) -> None:
            if socket.drained:
                return  # the application's late frames go nowhere
            if message["type"] == "websocket.close":
                socket.closed = True
            try:
                await send(message)
            except Exception:
                if socket.drained:
                    return  # the drain's close went out while this send waited
                raise
            if message["type"] == "websocket.accept":
                socket.accepted = True
                if self.closing:
                    await socket.close()

        self._sockets.add(socket)
        try:
            await self.app(scope, receive, guarded_send)
        finally:
            self._sockets.discard(socket)


async def _answer_503(send: Send, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _with_connection_close(start: Message) -> Message:
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"connection"]
    return {**start, "headers": [*headers, (b"connection", b"close")]}
