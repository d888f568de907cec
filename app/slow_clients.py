"""Deadlines uvicorn does not have: the request headers must arrive within
``header_timeout`` of the connection opening (or of the request's first
byte, on a kept-alive connection), be at most ``max_header_bytes`` long,
and the body must arrive within ``body_timeout`` of the headers. A client
that misses one is disconnected, so slow and silent sockets cannot pile up.

The one module that relies on uvicorn's httptools protocol class (passed
through uvicorn's public ``http=`` setting) and its parser callbacks; a guard
test (tests/app/test_slow_clients_guard.py) checks those names and signatures."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class Deadlines:
    def __init__(self, header_timeout: float, body_timeout: float, max_header_bytes: int) -> None:
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_header_bytes = max_header_bytes

    def protocol(self) -> type[asyncio.Protocol]:
        """The protocol class to hand to ``uvicorn.Config(http=...)``."""
        deadlines = self

        class Protocol(GuardedHttpTools):
            limits = deadlines

        return Protocol


class GuardedHttpTools(HttpToolsProtocol):
    limits: Deadlines

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes: int | None = None  # counted while headers arrive

    def _arm(self, seconds: float | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None if seconds is None else self.loop.call_later(seconds, self._cut)

    def _cut(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._header_bytes is not None:  # still no end of headers
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._cut()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_bytes is None:
            self._header_bytes = 0
            self._arm(self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._arm(None)
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._arm(None)  # the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()
