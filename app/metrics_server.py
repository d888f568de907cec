"""Serving the metrics: the Prometheus text of a container's registry, on the
main app's /metrics or, with METRICS_PORT, on a port of its own (and then not
on the main one).

The own port is a minimal HTTP/1.1 listener on asyncio streams, in the
server's event loop (a second uvicorn server would take over the process's
signal handlers): it answers ``GET /metrics`` and 404 to anything else, one
request per connection, with a deadline and a size limit on the request head."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from app.container import Container

log = logging.getLogger("microgrid.metrics")
HEAD_TIMEOUT_SECONDS = 5.0
HEAD_LIMIT_BYTES = 8192


async def render(container: Container) -> bytes:
    """One scrape: refresh what is read from the database (cached), then the text."""
    await container.controller_reports.refresh()
    return generate_latest(container.metrics.registry)


def metrics_endpoint(container: Container) -> Callable[[Request], Awaitable[Response]]:
    """The main app's /metrics route (when metrics have no port of their own)."""

    async def metrics(_request: Request) -> Response:
        return Response(await render(container), media_type=CONTENT_TYPE_LATEST)

    return metrics


class MetricsServer:
    """/metrics on a port of its own; ``port`` is the bound one once started."""

    def __init__(self, container: Container, host: str, port: int) -> None:
        self._container = container
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=HEAD_LIMIT_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("serving metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_SECONDS)
            method, target = _request_line(head)
            if method in (b"GET", b"HEAD") and target.split(b"?", 1)[0] == b"/metrics":
                body = await render(self._container)
                status, content_type = b"200 OK", CONTENT_TYPE_LATEST.encode()
            else:
                body, status, content_type = b"Not found\n", b"404 Not Found", b"text/plain"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type
                + b"\r\nContent-Length: " + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + (body if method != b"HEAD" else b"")
            )  # fmt: skip
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _request_line(head: bytes) -> tuple[bytes, bytes]:
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return (parts[0], parts[1]) if len(parts) == 3 else (b"", b"")
