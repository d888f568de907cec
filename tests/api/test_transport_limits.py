"""Transport-level refusals: every one is a client error in the RFC 9457 JSON
shape (``extensions.code``), decided before anything parses or executes the
request; none is a 5xx or leaves a traceback in the log."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.asgi import create_app
from domain.access import Role
from tests.support.live_server import live_server

pytestmark = pytest.mark.stores("sqlite")

VIEWER = "{ viewer { role } }"
PROBLEM_KEYS = {"code", "type", "title", "status", "detail"}


def nested(depth: int, leaf: str = "1") -> str:
    """``depth`` levels of arrays and objects, alternating, around ``leaf``."""
    opens = "".join('{"k":' if i % 2 else "[" for i in range(depth))
    closes = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return opens + leaf + closes


def body(variables: str = "{}", extensions: str = "null") -> str:
    return f'{{"query": "{VIEWER}", "variables": {variables}, "extensions": {extensions}}}'


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    (error,) = response.json()["errors"]
    extensions = error["extensions"]
    assert extensions.keys() >= PROBLEM_KEYS, extensions
    assert (extensions["code"], extensions["status"]) == (code, status)
    assert error["message"] == extensions["detail"]
    return extensions


@pytest.fixture
def post(admin, http):
    async def send(
        content: str | bytes, content_type: str = "application/json", method: str = "POST"
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {admin.token}", "Content-Type": content_type}
        return await http.request(method, "/graphql", content=content, headers=headers)

    return send


@pytest.mark.parametrize(
    "content, code",
    [
        ("{", "INVALID_JSON"),
        (b"\xff\xfe{}", "INVALID_JSON"),
        (body('{"x": NaN}'), "INVALID_JSON"),
        (body('{"x": Infinity}'), "INVALID_JSON"),
        (body('{"x": [-Infinity]}'), "INVALID_JSON"),
        (body('{"x": 1e400}'), "INVALID_JSON"),
        (body(extensions='{"x": NaN}'), "INVALID_JSON"),
        (f"[{body()}]", "BATCHING_NOT_SUPPORTED"),
        ("3", "BAD_REQUEST"),
        ('{"query": 3}', "BAD_REQUEST"),
        ('{"query": "{ viewer { role } }", "variables": []}', "BAD_REQUEST"),
        ("{}", "BAD_REQUEST"),
        ('{"query": "{ viewer { role } }", "operationName": "\\udfff"}', "INVALID_JSON"),
        (body('{"name": "a\\ud800b"}'), "INVALID_JSON"),
        (body('{"\\uDC00": 1}'), "INVALID_JSON"),
    ],
)
async def test_malformed_bodies_are_coded_client_errors(post, content, code):
    assert_problem(await post(content), 400, code)


@pytest.mark.parametrize("depth", [35, 100, 5_000, 50_000])  # 50,000: near the body cap
async def test_json_nested_deeper_than_35_levels_is_refused(post, caplog, depth):
    caplog.set_level(logging.INFO)
    for content in (body(nested(depth)), body(extensions=nested(depth))):
        extensions = assert_problem(await post(content), 400, "JSON_TOO_DEEP")
        assert "35" in extensions["detail"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_json_nested_35_levels_deep_is_read(post):
    # The body object is level 1, `variables` level 2: 33 more levels fill it.
    response = await post(body('{"x": ' + nested(33) + "}"))
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"viewer": {"role": "admin"}}


async def test_brackets_inside_strings_are_not_nesting(post):
    text = json.dumps("[{" * 10_000 + '\\"]')
    response = await post(body('{"x": ' + text + "}"))
    assert response.status_code == 200, response.text


async def test_a_body_that_is_not_json_content_is_415(post):
    assert_problem(await post(body(), "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_problem(
        await post("query=x", "application/x-www-form-urlencoded"), 415, "UNSUPPORTED_MEDIA_TYPE"
    )


async def test_wrong_methods_are_405(post, admin, http):
    assert_problem(await post(body(), method="PUT"), 405, "METHOD_NOT_ALLOWED")
    get = await http.get(
        "/graphql", params={"query": VIEWER}, headers={"Authorization": f"Bearer {admin.token}"}
    )
    assert_problem(get, 405, "METHOD_NOT_ALLOWED")


async def test_a_subscription_over_http_is_told_to_use_a_websocket(post, caplog):
    caplog.set_level(logging.INFO)
    subscription = (
        'subscription { microgridCard(depotId: "00000000-0000-4000-8000-000000000000") { reason } }'
    )
    response = await post(json.dumps({"query": subscription}))
    extensions = assert_problem(response, 400, "SUBSCRIPTION_NEEDS_WEBSOCKET")
    assert "WebSocket" in extensions["detail"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_an_unknown_path_is_a_coded_404(http):
    assert_problem(await http.get("/nope"), 404, "NOT_FOUND")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
            max_leaves=40,
        ).map(json.dumps),
        st.integers(0, 80).map(lambda d: body(nested(d))),
    )
)
async def test_no_body_is_a_server_error(post, content):
    response = await post(content)
    if response.status_code != 200:
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["errors"][0]["extensions"]["code"]
    for error in response.json().get("errors", []):
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error


# --- graphql-transport-ws ----------------------------------------------------

MAX_BODY = 64 * 1024


async def _closed_with(ws) -> int:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code


@pytest.fixture
async def ws_server(container, settings, clock):
    container.settings = settings.model_copy(update={"max_body_bytes": MAX_BODY})
    token = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        yield url.replace("http", "ws") + "/graphql", token


async def _open(url: str, token: str | None = None):
    ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"], max_size=None)
    if token is not None:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
    return ws


async def test_a_big_frame_before_connection_ack_is_closed_1009(ws_server):
    url, token = ws_server
    ws = await _open(url)
    pad = "x" * (16 * 1024)
    await ws.send(
        json.dumps(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}", "p": pad}}
        )
    )
    assert await _closed_with(ws) == 1009


async def test_frames_after_ack_may_be_bigger_up_to_the_body_cap(ws_server):
    url, token = ws_server
    ws = await _open(url, token)
    await ws.send(json.dumps({"type": "ping", "payload": {"p": "x" * (MAX_BODY - 100)}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
    await ws.send(json.dumps({"type": "ping", "payload": {"p": "x" * MAX_BODY}}))
    assert await _closed_with(ws) == 1009


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "ping", "payload": {"x": NaN}}',
        '{"type": "ping", "payload": {"x": -Infinity}}',
        '{"type": "ping", "payload": ' + nested(40) + "}",
        '{"type": "ping", "payload": ' + nested(10_000) + "}",
        json.dumps(
            {"id": {"a": 1}, "type": "subscribe", "payload": {"query": "{ viewer { role } }"}}
        ),
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": 3}}),
        json.dumps({"id": "1", "type": "subscribe", "payload": {"query": VIEWER, "variables": 3}}),
        json.dumps({"id": "1", "type": "subscribe"}),
        json.dumps({"id": "1", "type": "complete", "extra": nested(10)}) + " x",
    ],
)
async def test_malformed_frames_after_ack_are_closed_4400(ws_server, caplog, frame):
    caplog.set_level(logging.INFO)
    url, token = ws_server
    ws = await _open(url, token)
    await ws.send(frame)
    assert await _closed_with(ws) == 4400
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_deeply_nested_connection_init_is_closed_4400(ws_server):
    url, _token = ws_server
    ws = await _open(url)
    await ws.send('{"type": "connection_init", "payload": ' + nested(2_000) + "}")
    assert await _closed_with(ws) == 4400


async def test_a_paired_surrogate_escape_is_one_character_and_fine(post):
    response = await post(body('{"name": "\\ud83d\\ude00"}'))
    assert response.status_code == 200, response.text


async def test_a_value_whose_lower_case_is_longer_is_a_client_error(admin, caplog):
    """graphql-core's "did you mean" list fails on such values; none is made."""
    caplog.set_level(logging.INFO)
    query = 'mutation ($c: CapabilityType!) { recordCapabilityStatus(input: {microgridId: \
"00000000-0000-4000-8000-000000000000", capability: $c, value: true, \
observedAt: "2026-01-01T00:00:00Z", providerEventRef: "r"}) { __typename } }'
    for value in ("\u0130", "\u0130" * 50, "DE\u0130"):
        (error,) = (await admin.raw(query, {"c": value})).json()["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", error
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_an_operation_that_cannot_run_over_websocket_is_a_coded_error(ws_server, caplog):
    caplog.set_level(logging.INFO)
    url, token = ws_server
    ws = await _open(url, token)
    card = 'subscription A { microgridCard(depotId: "x") { reason } }'
    for op_id, payload in (
        ("empty", {"query": card, "operationName": ""}),
        ("nope", {"query": card, "operationName": "Nope"}),
        ("no-query", {"query": ""}),
    ):
        await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert message["type"] == "error", message
        assert message["payload"][0]["extensions"]["code"] == "BAD_REQUEST", message
    await ws.close()
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_client_gone_before_its_body_arrived_leaves_no_traceback(container, admin, caplog):
    """The ASGI app sees `http.disconnect` where the body should be (a slow
    uploader that gave up, or one the body timeout cut)."""
    caplog.set_level(logging.INFO)
    app = create_app(container)
    messages = iter([{"type": "http.disconnect"}])
    sent: list[dict] = []

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "headers": [
            (b"authorization", f"Bearer {admin.token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("c", 1),
        "root_path": "",
        "state": {},
    }
    await app(scope, receive, send)  # raised ClientDisconnect before the fix
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_a_duplicate_long_operation_id_closes_4409_with_a_short_reason(ws_server, caplog):
    """Strawberry's 4409 reason quotes the id; a close frame holds 123 bytes."""
    caplog.set_level(logging.INFO)
    url, token = ws_server
    ws = await _open(url, token)
    long_id = "é" * 5_000
    subscribe = {
        "id": long_id,
        "type": "subscribe",
        "payload": {"query": 'subscription { microgridCard(depotId: "x") { reason } }'},
    }
    await ws.send(json.dumps(subscribe))
    await ws.send(json.dumps(subscribe))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None, "closed without a close frame"
    assert closed.value.rcvd.code == 4409
    assert len(closed.value.rcvd.reason.encode()) <= 123
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
