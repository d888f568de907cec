"""The request span (app.trace_requests): one per HTTP request and per
WebSocket connection, continuing the client's trace, named by route only."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.websockets import WebSocket

from app.light_spans import LightTracer
from app.trace_requests import (
    METHOD_CHARS,
    PATH_CHARS,
    RequestSpans,
    excluded_paths,
    trusts_client_context,
)

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


async def ok(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def broken(_request: Request) -> PlainTextResponse:
    return PlainTextResponse("no", status_code=503)


async def echo(socket: WebSocket) -> None:
    await socket.accept()
    await socket.send_text(await socket.receive_text())
    await socket.close()


def _app(exporter: InMemorySpanExporter, sampler: object = None, trust: bool = True) -> Starlette:
    provider = TracerProvider(**({"sampler": sampler} if sampler else {}))  # type: ignore[arg-type]
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    from starlette.routing import WebSocketRoute

    return Starlette(
        routes=[
            Route("/", ok),
            Route("/graphql", ok, methods=["GET", "POST"]),
            Route("/broken", broken),
            Route("/healthz", ok),
            Mount("/console", routes=[Route("/{name}", ok)]),
            WebSocketRoute("/graphql", echo),
        ],
        middleware=[
            Middleware(
                RequestSpans,
                tracer=LightTracer(provider, processor, "test"),
                routes=("/", "/graphql", "/broken", "/healthz"),
                mounts=("/console",),
                excluded=excluded_paths(),
                trust_client_context=trust,
            )
        ],
    )


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


async def _get(app: Starlette, path: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        return await c.get(path, **kwargs)  # type: ignore[arg-type]


async def test_a_request_is_a_server_span_named_by_its_route(exporter) -> None:
    assert (await _get(_app(exporter), "/graphql")).status_code == 200
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("GET /graphql", SpanKind.SERVER)
    assert dict(span.attributes or {}) == {
        "url.path": "/graphql",
        "url.scheme": "http",
        "http.request.method": "GET",
        "http.response.status_code": 200,
    }
    assert span.status.status_code is StatusCode.UNSET


async def test_a_5xx_marks_the_span_an_error(exporter) -> None:
    assert (await _get(_app(exporter), "/broken")).status_code == 503
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["http.response.status_code"] == 503


async def test_the_span_continues_the_trace_the_client_started(exporter) -> None:
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    await _get(_app(exporter), "/graphql", headers={"traceparent": traceparent})
    (span,) = exporter.get_finished_spans()
    assert span.context.trace_id == int(CLIENT_TRACE, 16)
    assert span.parent is not None and span.parent.span_id == int(CLIENT_SPAN, 16)


async def test_paths_the_app_does_not_serve_are_named_by_the_method_only(exporter) -> None:
    app = _app(exporter)
    await _get(app, "/")
    await _get(app, "/console/app.js")
    await _get(app, "/consoles")
    await _get(app, "/wp-admin/../../etc/passwd")
    assert [s.name for s in exporter.get_finished_spans()] == [
        "GET /",
        "GET /console",
        "GET",
        "GET",
    ]


async def test_a_method_the_conventions_do_not_name_is_other_and_names_no_span(
    exporter,
) -> None:
    app = _app(exporter)
    for method in ("PROPFIND", "M-SEARCH", "HTTP", "X" * 500, "GET"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
            await c.request(method, "/graphql")
            await c.request(method, "/wp-admin")
    spans = exporter.get_finished_spans()
    assert {s.name for s in spans} == {"HTTP /graphql", "HTTP", "GET /graphql", "GET"}
    other = [dict(s.attributes or {}) for s in spans if s.name.startswith("HTTP")]
    assert {a["http.request.method"] for a in other} == {"_OTHER"}
    originals = {str(a["http.request.method_original"]) for a in other}
    assert {"PROPFIND", "M-SEARCH", "HTTP"} <= originals
    assert max(len(o) for o in originals) == METHOD_CHARS


async def test_a_long_path_is_recorded_cut(exporter) -> None:
    await _get(_app(exporter), "/" + "x" * 5000)
    (span,) = exporter.get_finished_spans()
    path = str((span.attributes or {})["url.path"])
    assert len(path) == PATH_CHARS and path.endswith("…")


async def test_several_traceparents_start_a_new_trace_and_tracestates_are_joined(
    exporter,
) -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    mine = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/graphql",
        "headers": [(b"traceparent", mine), (b"traceparent", other)],
    }
    scope["headers"] = [(k, v.encode()) for k, v in scope["headers"]]  # type: ignore[union-attr]
    await _asgi(_app(exporter), scope, [{"type": "http.request", "body": b""}])
    (span,) = exporter.get_finished_spans()
    assert span.parent is None, "two traceparents are none (W3C)"
    exporter.clear()
    scope["headers"] = [
        (b"traceparent", mine.encode()),
        (b"tracestate", b"a=1"),
        (b"tracestate", b"b=2"),
    ]
    await _asgi(_app(exporter), scope, [{"type": "http.request", "body": b""}])
    (span,) = exporter.get_finished_spans()
    assert dict(span.context.trace_state) == {"a": "1", "b": "2"}


async def test_a_service_can_refuse_to_let_clients_decide_its_traces(exporter, monkeypatch) -> None:
    unsampled = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"
    monkeypatch.setenv("OTEL_PROPAGATORS", "none")
    assert not trusts_client_context()
    await _get(_app(exporter, trust=False), "/graphql", headers={"traceparent": unsampled})
    (span,) = exporter.get_finished_spans()
    assert span.parent is None and span.context.trace_id != int(CLIENT_TRACE, 16)
    monkeypatch.delenv("OTEL_PROPAGATORS")
    assert trusts_client_context()


async def test_probes_make_no_span_and_the_variable_replaces_the_default(
    exporter, monkeypatch
) -> None:
    await _get(_app(exporter), "/healthz")
    assert exporter.get_finished_spans() == ()
    await _get(_app(exporter), "/graphql/healthz")
    assert [s.name for s in exporter.get_finished_spans()] == ["GET"], "only the probe itself"
    exporter.clear()
    monkeypatch.setenv("OTEL_PYTHON_ASGI_EXCLUDED_URLS", "/graph.*")
    app = _app(exporter)
    await _get(app, "/graphql")
    await _get(app, "/healthz")
    assert [s.name for s in exporter.get_finished_spans()] == ["GET /healthz"]
    monkeypatch.setenv("OTEL_PYTHON_ASGI_EXCLUDED_URLS", " , ")
    assert excluded_paths() is None


async def test_an_unsampled_request_is_served_and_records_nothing(exporter) -> None:
    assert (await _get(_app(exporter, ALWAYS_OFF), "/graphql")).text == "ok"
    assert exporter.get_finished_spans() == ()


async def _asgi(app: Starlette, scope: dict, incoming: list[dict]) -> list[dict]:
    """Drives ``app`` with a raw ASGI scope (bytes as a hostile client sends them)."""
    sent: list[dict] = []
    pending = list(incoming)

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(
        {"asgi": {"version": "3.0"}, "scheme": "http", "query_string": b"", **scope}, receive, send
    )
    return sent


async def test_a_websocket_connection_is_one_span(exporter) -> None:
    scope = {"type": "websocket", "path": "/graphql", "headers": []}
    messages = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hello"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent = await _asgi(_app(exporter), scope, messages)
    assert {"type": "websocket.send", "text": "hello"} in [
        {k: v for k, v in m.items() if k in ("type", "text")} for m in sent
    ]
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.kind) == ("WebSocket /graphql", SpanKind.SERVER)
    assert "http.response.status_code" not in (span.attributes or {})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    traceparent=st.binary(max_size=80) | st.from_regex(rb"\A00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\Z"),
    tracestate=st.binary(max_size=60),
    path=st.text(max_size=40),
)
async def test_hostile_headers_and_paths_never_break_a_request_or_multiply_span_names(
    traceparent: bytes, tracestate: bytes, path: str
) -> None:
    exporter = InMemorySpanExporter()
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/" + path,
        "headers": [(b"traceparent", traceparent), (b"tracestate", tracestate)],
    }
    sent = await _asgi(_app(exporter), scope, [{"type": "http.request", "body": b""}])
    assert sent[0]["type"] == "http.response.start"
    spans = exporter.get_finished_spans()
    assert len(spans) <= 1, "one span, or none when the client's context says unsampled"
    for span in spans:
        assert span.name in {"GET", "GET /", "GET /graphql", "GET /broken", "GET /console"}
