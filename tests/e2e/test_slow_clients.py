"""Slow and silent clients against a real `microgrid serve`: the server closes
them by itself (timeouts set to 1 s here), and keeps serving everyone else.
Every wait ends on the socket's EOF; the bound only stops a broken run."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from tests.e2e.server import RunningServer, serve

pytestmark = pytest.mark.e2e

BOUND = 30.0  # far above the 1 s timeouts: reached only if the server never closes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    database = tmp_path_factory.mktemp("slow") / "slow.db"
    with serve(
        f"sqlite+aiosqlite:///{database}",
        HEADER_TIMEOUT_SECONDS="1",
        BODY_TIMEOUT_SECONDS="1",
        KEEP_ALIVE_TIMEOUT_SECONDS="1",
        WS_INIT_TIMEOUT_SECONDS="1",
    ) as running:
        yield running


def _connect(server: RunningServer) -> socket.socket:
    address = urlsplit(server.url)
    return socket.create_connection((address.hostname, address.port), timeout=BOUND)


def _closed_while_trickling(sock: socket.socket, drip: bytes) -> bool:
    """Sends ``drip`` every 0.2 s until the server closes the socket (True) or
    ``BOUND`` passes (False). Whatever the server says before closing is read."""
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.2)
        try:
            if readable and not sock.recv(65536):
                return True
            if not readable and drip:
                sock.sendall(drip)
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_a_silent_connection_is_closed(server):
    with _connect(server) as sock:
        assert _closed_while_trickling(sock, b"")


def test_headers_sent_a_line_at_a_time_are_cut_off(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert _closed_while_trickling(sock, b"X-Slow: a\r\n")


def test_a_body_sent_a_byte_at_a_time_is_cut_off(server):
    with _connect(server) as sock:
        sock.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{"
        )
        assert _closed_while_trickling(sock, b" ")


def test_an_idle_keep_alive_connection_is_closed(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert _closed_while_trickling(sock, b"")


async def test_a_websocket_without_connection_init_is_closed_4408(server):
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd.code == 4408


async def test_others_are_served_while_slow_clients_hang_on(server):
    slow = [_connect(server) for _ in range(20)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        async with httpx.AsyncClient(timeout=10) as http:
            health = await http.get(server.url.replace("/graphql", "/healthz"))
            assert health.json() == {"status": "ok"}
            refused = await http.post(server.url, content=b"{", headers={"Authorization": "x"})
            assert refused.status_code == 401
            assert json.loads(refused.text)["errors"][0]["extensions"]["code"]
    finally:
        for sock in slow:
            sock.close()
