"""The GraphQL operation in the trace, through Strawberry's public extension
hooks: no span per resolved field, none for parsing and validation.

An HTTP request carries one operation, so its operation is described on the
request's own span (app.trace_requests): ``graphql.operation.name`` and
``graphql.operation.type``, and ``graphql.document`` for an operation without
a name (a named one is identified by its name, and each attribute costs
about 5 µs to export). An operation on a
WebSocket connection (a subscription, or a query sent over it) is a span of
its own under the connection's, named as Strawberry names it (``GraphQL
Query: <name>``), and the statements its resolvers send are counted onto it
(app.trace_statements).

Strawberry's own OpenTelemetryExtension makes a span for every field it
resolves and, because it implements the ``resolve`` hook, routes every
resolver through an awaitable wrapper; with a span per operation beside the
request's, the spans a traced ingest exported were the larger part of what
tracing cost it (bench/README.md, "Issue 17"). This extension does not
implement ``resolve``, so Strawberry adds no field middleware at all."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry.trace import Span, SpanKind, Tracer
from strawberry.extensions import SchemaExtension

from app.trace_requests import http_request_span
from app.trace_statements import tallied


class OperationSpans(SchemaExtension):
    """One per operation (Strawberry makes it from the factory it is given).
    The operation is described once it is parsed and valid (``on_execute``:
    a subscription that ends by its socket closing never returns from
    ``on_operation``), or when it ends refused."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._span: Span | None = None
        self._rename = False
        """The span is ours and named before the operation's name was known."""

    def on_operation(self) -> Iterator[None]:
        request = http_request_span.get()
        if request is not None:
            self._span = request if request.is_recording() else None
            yield
            self._describe()
            return
        name = self.execution_context.operation_name
        with self._tracer.start_as_current_span(
            f"GraphQL Query: {name}" if name else "GraphQL Query",
            kind=SpanKind.SERVER,
            attributes={"component": "graphql"},
        ) as span:
            self._span = span if span.is_recording() else None
            self._rename = not name
            with tallied(span):
                yield
            self._describe()

    def on_execute(self) -> Iterator[None]:
        self._describe()
        yield

    def _describe(self) -> None:
        """The operation's name, type and document on its span, once."""
        span, self._span = self._span, None
        if span is None:
            return
        context = self.execution_context
        attributes: dict[str, str] = {}
        name = context.operation_name
        if name:
            attributes["graphql.operation.name"] = name
            if self._rename:
                span.update_name(f"GraphQL Query: {name}")
        if context.graphql_document is not None:
            with contextlib.suppress(RuntimeError):  # the named operation is not in it
                attributes["graphql.operation.type"] = context.operation_type.value
        if context.query and not name:
            attributes["graphql.document"] = context.query
        span.set_attributes(attributes)
