"""A minimal graphql-transport-ws client for fan-out benchmarks.

One Python process has to hold 1,000 subscribers on the second of two cores;
the `websockets` client cost enough CPU per message to inflate the latency it
was measuring. This one timestamps each text frame as it arrives and keeps it
unparsed until the measurement is over. Server frames only: no fragmentation,
no compression, pings answered."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit


class RawSubscriber(asyncio.Protocol):
    def __init__(self, on_next: Callable[[RawSubscriber], None]) -> None:
        self.on_next = on_next
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = asyncio.get_running_loop().create_future()
        self.acked = asyncio.get_running_loop().create_future()
        self.messages: list[tuple[float, bytes]] = []
        self.closed = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(
        cls, url: str, token: str, query: str, variables: dict[str, object], on_next: Callable
    ) -> RawSubscriber:
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(
            lambda: cls(on_next), parts.hostname, parts.port or 80
        )
        key = base64.b64encode(os.urandom(16)).decode()
        assert client.transport is not None
        client.transport.write(
            (
                f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        await client.upgraded
        client.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        await client.acked
        client.send(
            {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        return client

    def send(self, message: dict[str, object]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        if length < 126:
            head = bytes([0x81, 0x80 | length])
        else:
            head = bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big")
        assert self.transport is not None
        self.transport.write(head + mask + masked)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.buffer[: self.buffer.find(b"\r\n")]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode()))
                return
            self.buffer = self.buffer[end + 4 :]
            self.upgraded.set_result(None)
        while len(self.buffer) >= 2:
            opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + length:
                return
            payload = self.buffer[start : start + length]
            self.buffer = self.buffer[start + length :]
            self._frame(opcode, payload, now)

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x8:
            if self.transport is not None:
                self.transport.close()
            return
        if opcode == 0x9 and len(payload) < 126 and self.transport is not None:
            # the server's WebSocket keepalive: unanswered, it closes a
            # subscriber that a long run has held open
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
            return
        if opcode != 0x1:
            return
        if not self.acked.done():
            if b"connection_ack" in payload:
                self.acked.set_result(None)
            else:
                self.acked.set_exception(ConnectionError(payload.decode()))
            return
        if b'"type":"ping"' in payload.replace(b" ", b""):
            self.send({"type": "pong"})
            return
        self.messages.append((now, payload))
        self.on_next(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
