"""A minimal HTTP/1.1 keep-alive client for load generation.

httpx costs enough client CPU per request to make the load generator the
bottleneck (bench/README.md, "Sizes and clients"). This handles only what the
benchmarks need: JSON POSTs and GETs with Content-Length responses."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit


class RawHttpConnection:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def post_json(self, body: Any) -> tuple[int, Any]:
        payload = json.dumps(body).encode()
        request = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        status, raw = await self._roundtrip(request)
        return status, json.loads(raw) if raw else None

    async def get(self) -> tuple[int, Any]:
        status, raw = await self.get_bytes()
        return status, json.loads(raw) if raw else None

    async def get_bytes(self) -> tuple[int, bytes]:
        request = f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n{self.headers}\r\n".encode()
        return await self._roundtrip(request)

    async def _roundtrip(self, request: bytes) -> tuple[int, bytes]:
        reused = self._writer is not None
        try:
            return await self._exchange(request)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            await self.close()  # the server closed an idle keep-alive connection
            return await self._exchange(request)

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        reader, writer = await self._connect()
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            writer, self._reader, self._writer = self._writer, None, None
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
