"""The access log: one JSON line per request with OpenTelemetry field names,
the request id echoed in ``X-Request-ID``, the trace id of the request's span
or ``traceparent``, a WebSocket's open and close; never a token, a header but
the user agent, variables or bodies."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.access_log import AccessLog
from app.asgi import create_app
from app.container import build_container
from app.log_format import JsonFormatter, LogFields
from app.telemetry import Telemetry
from domain.access import Role
from tests.support.live_server import live_server

pytestmark = pytest.mark.stores("sqlite")

VIEWER = "query WhoAmI($id: ID!) { viewer { role } depot(id: $id) { name } }"


class Lines:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def access(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line["logger.name"] == "microgrid.access"]

    @property
    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def lines() -> Iterator[Lines]:
    """The service's lines as LOG_FORMAT=json writes them (formatted as they are logged)."""
    captured = Lines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter(LogFields("sqlite", lambda _error: False)))
    logger = logging.getLogger("microgrid")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


async def test_a_graphql_post_has_one_access_line_with_the_semantic_convention_fields(
    admin, http, lines
):
    secret = str(uuid.uuid4())
    response = await http.post(
        "/graphql",
        json={"query": VIEWER, "variables": {"id": secret}},
        headers={
            "Authorization": f"Bearer {admin.token}",
            "User-Agent": "depot-console/1.0",
            "X-Request-ID": "req-42.a_b",
        },
    )
    assert response.json() == {"data": {"viewer": {"role": "admin"}, "depot": None}}
    assert response.headers["X-Request-ID"] == "req-42.a_b"
    (line,) = lines.access()
    assert line["http.request.method"] == "POST"
    assert line["url.path"] == "/graphql"
    assert line["http.response.status_code"] == 200
    assert line["client.address"] == "127.0.0.1"
    assert isinstance(line["http.server.request.duration"], float)
    assert line["user_agent.original"] == "depot-console/1.0"
    assert line["request.id"] == "req-42.a_b"
    assert line["graphql.operation.name"] == "WhoAmI"
    assert line["graphql.operation.type"] == "query"
    assert line["severity_text"] == "INFO"
    assert admin.token not in lines.text and secret not in lines.text
    assert "authorization" not in lines.text.lower()


@pytest.mark.parametrize(
    "sent",
    [None, "", "x" * 129, "has space", "semi;colon", "new\nline", "ünïcode"],
    ids=["none", "empty", "too-long", "space", "semicolon", "newline", "unicode"],
)
async def test_a_missing_or_malformed_request_id_is_replaced_by_a_generated_one(http, lines, sent):
    headers = {} if sent is None else {"X-Request-ID": sent.encode()}
    response = await http.get("/healthz", headers=headers)
    generated = response.headers["X-Request-ID"]
    assert generated != sent and 1 <= len(generated) <= 128
    (line,) = lines.access()
    assert line["request.id"] == generated


async def test_the_longest_well_formed_request_id_is_kept(http):
    sent = "A-z0.9_" * 18 + "ab"
    response = await http.get("/healthz", headers={"X-Request-ID": sent})
    assert len(sent) == 128 and response.headers["X-Request-ID"] == sent


async def test_the_access_line_carries_the_trace_id_of_the_span_around_the_request(admin, lines):
    """As it runs under the OpenTelemetry ASGI middleware: a span is current."""
    transport = httpx.ASGITransport(app=create_app(admin.http._transport.app.state.container))
    tracer = TracerProvider().get_tracer("test")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        with tracer.start_as_current_span("GET /graphql") as span:
            await http.post(
                "/graphql",
                json={"query": "{ viewer { role } }"},
                headers={"Authorization": f"Bearer {admin.token}"},
            )
    (line,) = lines.access()
    assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["span_id"] == f"{span.get_span_context().span_id:016x}"
    assert line["graphql.operation.type"] == "query" and "graphql.operation.name" not in line


async def _traced_post(settings, clock, body: dict[str, Any]) -> InMemorySpanExporter:
    """``body`` POSTed to a traced app as an admin; the spans it exported."""
    exporter = InMemorySpanExporter()
    traced = build_container(
        settings.model_copy(update={"otel_exporter_otlp_endpoint": None}),
        clock=clock,
        telemetry=Telemetry(SimpleSpanProcessor(exporter)),
    )
    try:
        token = (await traced.tokens.issue(Role.ADMIN, (), clock.now())).token
        transport = httpx.ASGITransport(app=create_app(traced))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post(
                "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200
    finally:
        await traced.close()
    return exporter


async def test_with_tracing_on_the_line_names_the_operation_and_the_requests_span(
    settings, clock, lines
):
    """Tracing's operation extension takes the access log's place: the line
    still names the operation, and its trace id is the request span's."""
    body = {"query": VIEWER, "variables": {"id": str(uuid.uuid4())}}
    exporter = await _traced_post(settings, clock, body)
    (line,) = lines.access()
    assert line["graphql.operation.name"] == "WhoAmI"
    assert line["graphql.operation.type"] == "query"
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "POST /graphql"]
    assert line["trace_id"] == f"{span.context.trace_id:032x}"
    assert (span.attributes or {})["graphql.operation.name"] == "WhoAmI"


async def test_with_graphql_excluded_from_traces_the_line_still_names_the_operation(
    settings, clock, lines, monkeypatch
):
    """OTEL_PYTHON_ASGI_EXCLUDED_URLS may leave /graphql out: then no span at all
    (an HTTP operation is not taken for a WebSocket's), and the line is as ever."""
    monkeypatch.setenv("OTEL_PYTHON_ASGI_EXCLUDED_URLS", "^/graphql$")
    exporter = await _traced_post(settings, clock, {"query": "query Excl { __typename }"})
    (line,) = lines.access()
    assert (line["graphql.operation.name"], line["graphql.operation.type"]) == ("Excl", "query")
    assert exporter.get_finished_spans() == ()


async def test_without_a_span_the_trace_id_comes_from_the_traceparent_header(http, lines):
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    await http.get("/healthz", headers={"traceparent": traceparent})
    await http.get("/healthz", headers={"traceparent": "00-not-a-trace-01"})
    first, second = lines.access()
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in second


async def test_a_client_error_is_said_by_the_access_line(scoped_client, lines):
    operator = await scoped_client(Role.OPERATOR)
    response = await operator.raw(
        'mutation Make { createDepot(input: {name: "x"}) { __typename } }'
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    (line,) = lines.all()
    assert line["logger.name"] == "microgrid.access"
    assert line["error.type"] == "FORBIDDEN"
    assert line["graphql.operation.name"] == "Make"
    assert line["graphql.operation.type"] == "mutation"
    assert "FORBIDDEN" in line["body"]


async def test_a_hostile_operation_name_and_path_stay_on_one_line(admin, http, lines):
    name = 'Op\n{"x":1}\u2028' + "n" * 5000
    await http.post(
        "/graphql",
        json={"query": "query Op { viewer { role } }", "operationName": name},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    await http.get("/%0A%0D%00%22evil%22" + "p" * 3000)
    assert len(lines.text.splitlines()) == len(lines.all())
    operation, path = lines.access()
    assert operation["graphql.operation.name"].startswith("Op\n")
    assert "graphql.operation.name" in operation["log.truncated"]
    assert path["url.path"].startswith('/\n\r\x00"evil"')
    assert "url.path" in path["log.truncated"]
    assert "\n" not in path["body"] and "\n" not in operation["body"]
    assert len(operation["body"]) < 300


@pytest.mark.parametrize("name", [123, {"a": 1}, ["x"], True])
async def test_an_operation_name_that_is_not_a_string_is_logged_as_none(
    admin, http, lines, caplog, name
):
    answer = await http.post(
        "/graphql",
        json={"query": "query Op { viewer { role } }", "operationName": name},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert answer.status_code < 500
    (line,) = lines.access()
    assert line.get("graphql.operation.name") is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no traceback"


async def test_with_the_access_log_off_the_request_id_is_still_echoed(container, lines):
    container.settings = container.settings.model_copy(update={"access_log": False})
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/healthz", headers={"X-Request-ID": "kept"})
    assert response.headers["X-Request-ID"] == "kept"
    assert lines.access() == []


async def test_a_websocket_has_an_open_and_a_close_line(container, clock, lines):
    token = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        ws_url = url.replace("http", "ws") + "/graphql?token=in-the-query"
        async with websockets.connect(
            ws_url,
            subprotocols=["graphql-transport-ws"],
            additional_headers={"X-Request-ID": "ws-7"},
        ) as ws:
            assert ws.response.headers["X-Request-ID"] == "ws-7"
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                )
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
        async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer x"}})
            )
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
        deadline = asyncio.get_running_loop().time() + 5
        while len(lines.access()) < 4 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
    opened, closed, refused_open, refused = lines.access()
    assert (opened["websocket.event"], closed["websocket.event"]) == ("open", "close")
    assert opened["request.id"] == closed["request.id"] == "ws-7"
    assert opened["url.path"] == "/graphql" and opened["client.address"] == "127.0.0.1"
    assert closed["websocket.close.code"] == 1000
    assert closed["websocket.close.initiator"] == "client"
    assert refused["websocket.close.code"] == 4403
    assert refused["websocket.close.initiator"] == "server"
    assert refused_open["request.id"] == refused["request.id"] != "ws-7"
    assert token not in lines.text and "in-the-query" not in lines.text


async def test_a_request_that_raises_is_logged_500_and_its_exception_names_it(lines):
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("the handler broke")

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"r-9")]}
    context = contextvars.copy_context()  # as uvicorn runs each request in a task of its own

    async def serve() -> None:
        with pytest.raises(RuntimeError):
            await AccessLog(broken)(scope, _nothing, _nothing)
        # The server reports the exception after the app returns (uvicorn.error).
        logging.getLogger("microgrid.server").error("Exception in ASGI application")

    await asyncio.get_running_loop().create_task(serve(), context=context)
    access, report = lines.all()
    assert access["http.response.status_code"] == 500
    assert access["severity_text"] == "WARNING"
    assert access["request.id"] == report["request.id"] == "r-9"


async def _nothing(*_args: Any) -> Any:
    return {"type": "http.disconnect"}
