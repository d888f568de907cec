"""A careless operator and a hostile client against real `microgrid serve`
processes: what issue 17 (deploys, reconnect storms) and issue 18 (settings
for Sentinel and multi-host PostgreSQL) added, from outside."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from websockets.typing import Subprotocol

from bench.serving import BIN, cli, serve
from tests.support import services
from tests.support.own_postgres import own_database

pytestmark = pytest.mark.e2e


def _refused_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_all(cases: dict[str, dict[str, str]], tmp_path: Path) -> dict[str, tuple[int, str]]:
    """Each case's (exit code, standard error) of ``microgrid serve`` run with
    its environment; side by side, as each pays the CLI's start-up."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}"
    processes = {
        name: subprocess.Popen(
            [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(_refused_port())],
            env={**os.environ, "DATABASE_URL": database, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, env in cases.items()
    }
    outcomes = {}
    for name, process in processes.items():
        try:
            _out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _out, err = process.communicate()
            err = f"still running after 60 s: {err}"
        outcomes[name] = (process.returncode, err)
    return outcomes


BAD_SETTINGS = {
    "SHUTDOWN_GRACE_SECONDS": {"SHUTDOWN_GRACE_SECONDS": "soon"},
    "SHUTDOWN_GRACE_SECONDS ": {"SHUTDOWN_GRACE_SECONDS": "0"},
    "SHUTDOWN_DRAIN_SECONDS": {"SHUTDOWN_DRAIN_SECONDS": "nan"},
    "SHUTDOWN_DRAIN_SECONDS ": {"SHUTDOWN_DRAIN_SECONDS": "301"},
    "PORT": {"PORT": "eighty"},
    "REDIS_URL": {"REDIS_URL": "redis+sentinel://127.0.0.1:abc/mymaster"},
    "DATABASE_URL": {"DATABASE_URL": "not a url"},
    "DATABASE_URL ": {
        "DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:5432,127.0.0.1:x/db"
        "?target_session_attrs=read-write"
    },
    "DATABASE_URL  ": {
        "DATABASE_URL": f"postgresql+asyncpg://u:secret-pw@/db?host=127.0.0.1:{_refused_port()}"
        f"&host=127.0.0.1:{_refused_port()}&target_session_attrs=read-write"
    },
    "DATABASE_URL   ": {"DATABASE_URL": "mysql://u@127.0.0.1/db"},
}


def test_serve_with_an_unusable_setting_says_which_in_one_line_and_exits_2(
    tmp_path: Path,
) -> None:
    outcomes = _start_all(BAD_SETTINGS, tmp_path)
    for variable, (code, err) in outcomes.items():
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, f"{BAD_SETTINGS[variable]}: exit {code}, {err[-800:]}"
        assert len(lines) == 1, f"{BAD_SETTINGS[variable]}: {err[-800:]}"
        assert lines[0].startswith(variable.strip()), lines[0]
        assert "secret-pw" not in err


async def test_a_request_cut_off_by_the_end_of_the_grace_is_told_to_retry(tmp_path: Path) -> None:
    """A client still sending its body when SHUTDOWN_GRACE_SECONDS runs out is
    answered a retryable SERVICE_UNAVAILABLE, not a bare 500; nothing is logged
    as an application error."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'grace.db'}"
    token = cli(database, "tokens", "create", "--role", "integration").split()[-1]
    log = tmp_path / "serve.log"
    env = {"SHUTDOWN_DRAIN_SECONDS": "0", "SHUTDOWN_GRACE_SECONDS": "1"}
    with serve(database, log=log, BODY_TIMEOUT_SECONDS="60", **env) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(
            (
                f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            ).encode()
        )
        await writer.drain()
        await _until_served(server.base, token)  # the partial request is in the app by now
        server.process.send_signal(signal.SIGTERM)
        head, _, body = (await asyncio.wait_for(reader.read(), 30)).partition(b"\r\n\r\n")
        writer.close()
        assert await asyncio.to_thread(server.process.wait, 30) == 0
    assert head.startswith(b"HTTP/1.1 503"), head
    extensions = json.loads(body)["errors"][0]["extensions"]
    assert (extensions["code"], extensions["retryable"]) == ("SERVICE_UNAVAILABLE", True)
    assert "Traceback" not in log.read_text()


async def _until_served(base: str, token: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{base}/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200


class CuttableLink:
    """A TCP relay to PostgreSQL on a thread of its own: ``cut()`` drops every
    relayed connection and refuses new ones, as a database that went away does."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> CuttableLink:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(10)
        return self

    def __exit__(self, *_: object) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def cut(self) -> None:
        asyncio.run_coroutine_threadsafe(self._cut(), self.loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)
        self._writers |= {client_w, server_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.transport.abort()

        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        self._writers -= {client_w, server_w}


def test_screens_connecting_while_the_database_is_unreachable_are_told_to_retry(
    tmp_path: Path,
) -> None:
    """A reconnect storm meeting a database outage (a failover, a restart): the
    token cannot be checked, so each screen is closed with 1013 (try again
    later), which clients retry, not dropped without a close frame (1006) with
    a traceback per screen in the log."""
    asyncio.run(_storm_while_unreachable(tmp_path))


async def _storm_while_unreachable(tmp_path: Path) -> None:
    async with own_database() as name:
        dsn = urlsplit(services.POSTGRES_DSN)
        with CuttableLink((dsn.hostname or "127.0.0.1", dsn.port or 5432)) as link:
            url = f"postgresql+asyncpg://{dsn.username}@127.0.0.1:{link.port}/{name}"
            output = await asyncio.to_thread(cli, url, "tokens", "create", "--role", "operator")
            token = output.split()[-1]
            log = tmp_path / "serve.log"
            running = serve(url, log=log)
            server = await asyncio.to_thread(running.__enter__)
            try:
                link.cut()
                closes = await asyncio.gather(
                    *(_init_close(server.ws_url, token) for _ in range(5))
                )
            finally:
                await asyncio.to_thread(running.__exit__, None, None, None)
    assert closes == [1013] * 5
    assert "Traceback" not in log.read_text()


async def _init_close(url: str, token: str) -> int | None:
    """The close code a screen gets in answer to its connection_init."""
    async with websockets.connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": token}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 30)
    return closed.value.rcvd.code if closed.value.rcvd else None
