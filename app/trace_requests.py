"""A span per HTTP request and per WebSocket connection (not per message: a
card fan-out writes a frame per screen), made by this middleware rather than
OpenTelemetry's ASGI instrumentation, which collects a dozen attributes,
wraps ``receive`` and ``send`` and works out the span's details before the
sampler has decided: most of what a traced request cost beyond its own
spans, and all of what an unsampled one did (bench/README.md, "Issue 17").

The span continues a trace the client started (a W3C ``traceparent``
header; see :func:`trusts_client_context`), is named ``{method} {route}``
(``POST /graphql``; only the method for a path the app does not serve, so a
hostile path cannot multiply span names, and ``HTTP`` for a method the
semantic conventions do not name, so hostile methods cannot either) or, for
a WebSocket, ``WebSocket {route}``, and records the
``http.request.method``, ``url.path``, ``url.scheme`` and
``http.response.status_code`` semantic-convention attributes; a 5xx marks
it an error. The span is app.light_spans' (recorded plainly). The SQL
statements sent under it that no inner span takes are counted onto it
(app.trace_statements).

Paths matching OTEL_PYTHON_ASGI_EXCLUDED_URLS (comma-separated regular
expressions searched in the path, as OpenTelemetry's instrumentation reads
that variable; default: exactly the probes and the scrape) make no span."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from contextvars import ContextVar

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import (
    INVALID_SPAN,
    Span,
    SpanKind,
    Status,
    StatusCode,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.light_spans import LightTracer
from app.trace_statements import end_tally, start_tally

UNTRACED_PATHS = r"^/healthz$,^/readyz$,^/metrics$"
"""Probes and scrapes make no traces (OTEL_PYTHON_ASGI_EXCLUDED_URLS replaces this)."""

http_request_span: ContextVar[Span | None] = ContextVar("http_request_span", default=None)
"""The span of the HTTP request being served, if any (app.trace_operations
describes its GraphQL operation on it)."""

_PROPAGATOR = TraceContextTextMapPropagator()
PATH_CHARS = 2048
"""The longest ``url.path`` recorded (a longer one is cut, ending in ``…``)."""
KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)
"""The methods the HTTP semantic conventions name; any other is ``_OTHER``
(the original in ``http.request.method_original``) and its span is named
``HTTP``, so a client's methods cannot multiply span names."""
METHOD_CHARS = 64
"""The longest ``http.request.method_original`` recorded."""


def excluded_paths() -> re.Pattern[str] | None:
    """OTEL_PYTHON_ASGI_EXCLUDED_URLS (or the default) as one pattern; ``None``
    when it names nothing."""
    patterns = os.environ.get("OTEL_PYTHON_ASGI_EXCLUDED_URLS", UNTRACED_PATHS)
    parts = [p.strip() for p in patterns.split(",") if p.strip()]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def trusts_client_context() -> bool:
    """Whether a client's ``traceparent`` is continued: unless OTEL_PROPAGATORS
    leaves ``tracecontext`` out (``none``), as the SDK reads that variable.
    A continued context carries the client's sampling decision (W3C), so a
    public endpoint whose clients should not decide what is traced sets
    ``OTEL_PROPAGATORS=none``."""
    names = os.environ.get("OTEL_PROPAGATORS", "tracecontext")
    return "tracecontext" in {n.strip() for n in names.split(",")}


def client_context(scope: Scope) -> Context | None:
    """The client's trace context, when it sent exactly one ``traceparent``
    (W3C: several make none); its ``tracestate`` headers joined, as W3C
    says to treat repeated ones."""
    traceparents: list[str] = []
    tracestates: list[str] = []
    for key, value in scope.get("headers") or ():
        if key == b"traceparent":
            traceparents.append(value.decode("latin-1"))
        elif key == b"tracestate":
            tracestates.append(value.decode("latin-1"))
    if len(traceparents) != 1:
        return None
    carrier = {"traceparent": traceparents[0]}
    if tracestates:
        carrier["tracestate"] = ",".join(tracestates)
    return _PROPAGATOR.extract(carrier)


def capped(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` - 1 characters and ``…``: what a client
    sends is recorded at most ``limit`` long."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RequestSpans:
    """ASGI middleware. ``routes``: the exact paths the app serves;
    ``mounts``: the paths under which it serves whole trees; both name spans."""

    def __init__(
        self,
        app: ASGIApp,
        tracer: LightTracer,
        routes: Iterable[str],
        mounts: Iterable[str] = (),
        excluded: re.Pattern[str] | None = None,
        trust_client_context: bool = True,
    ) -> None:
        self.app = app
        self._tracer = tracer
        self._excluded = excluded
        self._exact = frozenset(routes)
        self._mounts = tuple(m.rstrip("/") for m in mounts if m.strip("/"))
        self._trust = trust_client_context

    def _route(self, path: str) -> str | None:
        if path in self._exact:
            return path
        for mount in self._mounts:
            if path.startswith(mount + "/"):
                return mount
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        path: str = scope.get("path", "")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._excluded is not None and self._excluded.search(path):
            await self._untraced(kind, scope, receive, send)
            return
        route = self._route(path)
        method: str = scope.get("method", "") if kind == "http" else ""
        label = (method if method in KNOWN_METHODS else "HTTP") if method else "WebSocket"
        name = f"{label} {route}" if route else label
        span = self._tracer.start_span(
            name, context=client_context(scope) if self._trust else None, kind=SpanKind.SERVER
        )
        token = attach(set_span_in_context(span))
        request = http_request_span.set(span) if method else None
        try:
            if not span.is_recording():
                await self.app(scope, receive, send)
                return
            attributes = {
                "url.path": capped(path, PATH_CHARS),
                "url.scheme": scope.get("scheme", ""),
            }
            if method:
                if method in KNOWN_METHODS:
                    attributes["http.request.method"] = method
                else:
                    attributes["http.request.method"] = "_OTHER"
                    attributes["http.request.method_original"] = capped(method, METHOD_CHARS)
                send = _status_recorded(span, send)
            span.set_attributes(attributes)
            tally = start_tally(span)
            try:
                await self.app(scope, receive, send)
            except Exception as error:  # as the SDK's tracer records one
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                raise
            finally:
                end_tally(tally)
        finally:
            if request is not None:
                http_request_span.reset(request)
            span.end()
            detach(token)

    async def _untraced(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        """An excluded path: no span, and an HTTP request's operation is no
        WebSocket's (app.trace_operations makes a span of its own for those)."""
        if kind != "http":
            await self.app(scope, receive, send)
            return
        request = http_request_span.set(INVALID_SPAN)
        try:
            await self.app(scope, receive, send)
        finally:
            http_request_span.reset(request)


def _status_recorded(span: Span, send: Send) -> Send:
    """``send``, recording the response's status on ``span`` (a 5xx an error)."""

    async def traced_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status: int = message["status"]
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        await send(message)

    return traced_send
