"""A real `microgrid serve`: with LOG_FORMAT=json every line it writes is one
JSON object (start-up, migrations, uvicorn, access lines, hostile requests),
a GraphQL POST's access line has the OpenTelemetry fields and the request id
it echoed; with LOG_FORMAT=text the lines are for people."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e

BIG = 100_000


@pytest.fixture(scope="module")
def server_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A migrated database and an admin token (`tokens create` migrates)."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('logs') / 'logs.db'}"
    admin = cli(url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    return url, admin


def _wait_for_line(log: Path, text: str, seconds: float = 10) -> str:
    """The log's content once it holds ``text`` (lines are written after a response)."""
    deadline = time.monotonic() + seconds
    while True:
        content = log.read_text(encoding="utf-8", errors="strict")
        if text in content or time.monotonic() > deadline:
            return content
        time.sleep(0.05)


async def _requests(server: Any, admin: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            server.url,
            json={
                "query": "mutation NewDepot($input: CreateDepotInput!) {"
                " createDepot(input: $input) { __typename } }",
                "variables": {"input": {"name": "variable-secret-name"}},
            },
            headers={
                "Authorization": f"Bearer {admin}",
                "X-Request-ID": "e2e-request-1",
                "User-Agent": "u" * BIG,
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            },
        )
        assert response.status_code == 200 and "errors" not in response.json()
        assert response.headers["X-Request-ID"] == "e2e-request-1"
        await http.get(f"{server.base}/%0A%0D%00%22%7D%7B%E2%80%A8x")
        await http.post(server.url, content=b"{not json", headers={"Authorization": "Bearer x"})
        await http.post(
            server.url,
            json={"query": "{ viewer { role } }", "operationName": "a\nb\x00c\u2028"},
            headers={"Authorization": f"Bearer {admin}"},
        )
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"token": admin}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"


async def test_every_line_is_json_and_the_access_line_has_the_fields(server_db, tmp_path):
    url, admin = server_db
    log = tmp_path / "serve.log"
    # A 100 kB user agent must reach the service to be logged (and cut).
    with serve(url, log, LOG_FORMAT="json", MAX_HEADER_BYTES=str(4 * BIG)) as server:
        await _requests(server, admin)
        content = _wait_for_line(log, '"websocket.event":"close"')
    lines = [json.loads(line) for line in content.splitlines()]
    assert len(lines) == len(content.split("\n")) - 1, "one JSON object per line"
    access = [line for line in lines if line["logger.name"] == "microgrid.access"]
    (mutation,) = [line for line in access if line.get("request.id") == "e2e-request-1"]
    assert mutation["http.request.method"] == "POST"
    assert mutation["url.path"] == "/graphql"
    assert mutation["http.response.status_code"] == 200
    assert mutation["client.address"] == "127.0.0.1"
    assert 0 < mutation["http.server.request.duration"] < 60
    assert mutation["graphql.operation.name"] == "NewDepot"
    assert mutation["graphql.operation.type"] == "mutation"
    assert mutation["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert mutation["user_agent.original"].startswith("uuu")
    assert len(mutation["user_agent.original"]) < 2_000
    assert mutation["log.truncated"] == ["user_agent.original"]
    assert {line["body"] for line in lines if line["logger.name"] == "uvicorn.error"} >= {
        "Application startup complete."
    }
    assert any(line.get("db.system") == "sqlite" for line in lines), "the migrations' lines"
    paths = [line["url.path"] for line in access if line.get("http.request.method") == "GET"]
    assert '/\n\r\x00"}{\u2028x' in paths
    names = [line.get("graphql.operation.name") for line in access]
    assert "a\nb\x00c\u2028" in names
    events = [line.get("websocket.event") for line in access]
    assert events.count("open") == 1 and events.count("close") == 1
    assert admin not in content and "variable-secret-name" not in content
    assert '"WebSocket /graphql"' not in content, "uvicorn's own WebSocket lines are off"
    assert "connection open" not in content and "connection closed" not in content


async def test_the_text_format_is_for_people(server_db, tmp_path):
    url, admin = server_db
    log = tmp_path / "serve.log"
    with serve(url, log, LOG_FORMAT="text", LOG_LEVEL="info") as server:
        async with httpx.AsyncClient(timeout=10) as http:
            await http.post(
                server.url,
                json={"query": "query Me { viewer { role } }"},
                headers={"Authorization": f"Bearer {admin}", "X-Request-ID": "text-1"},
            )
        content = _wait_for_line(log, "request.id=text-1")
    (line,) = [line for line in content.splitlines() if "request.id=text-1" in line]
    assert "INFO" in line and "microgrid.access: POST /graphql 200 query Me" in line
    assert not line.startswith("{")
    assert "Application startup complete." in content
