"""A careless operator and a hostile client against real `microgrid serve`
processes: what issue 17 (deploys, reconnect storms) and issue 18 (settings
for Sentinel and multi-host PostgreSQL) added, from outside."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from bench.serving import BIN, cli, serve

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
