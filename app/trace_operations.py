"""The GraphQL operation in the trace, through Strawberry's public extension
hooks: no span per resolved field, none for parsing and validation.

An HTTP request carries one operation, so its operation is described on the
request's own span (app.trace_requests): ``graphql.operation.name`` and
``graphql.operation.type``, and ``graphql.document`` (cut at DOCUMENT_CHARS)
for an operation without a name (a named one is identified by its name, and
each attribute costs about 5 µs to export). An operation on a WebSocket
connection (a subscription, or a query sent over it) is a span of its own
under the connection's, ``GraphQL Query[: <name>]``, and the statements its
resolvers send are counted onto it (app.trace_statements).

Strawberry's own OpenTelemetryExtension makes a span for every field it
resolves and, because it implements the ``resolve`` hook, routes every
resolver through an awaitable wrapper; with a span per operation beside the
request's, the spans a traced ingest exported were the larger part of what
tracing cost it (bench/README.md, "Issue 17"). This extension does not
implement ``resolve``, so Strawberry adds no field middleware at all.

It is also the access log's extension (it takes :class:`OperationNoted`'s
place rather than running beside it): Strawberry wraps every hook of every
extension for every operation, and a second extension cost a traced ingest
request more than describing its operation did (bench/README.md, "Tracing
off vs on, fifth session")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry.trace import Span, SpanKind, Tracer

from app.access_log import OperationNoted
from app.trace_requests import capped, http_request_span
from app.trace_statements import tallied

DOCUMENT_CHARS = 2048
"""The longest ``graphql.document`` recorded (a longer one is cut, ending in
``…``): a client chooses the document, and the export carries it."""
NAME_CHARS = 128
"""The longest ``graphql.operation.name`` recorded."""


class OperationSpans(OperationNoted):
    """One per operation (Strawberry makes it from the factory it is given);
    it notes the operation for the access log as :class:`OperationNoted` does.

    The operation is described once it is parsed and valid (``on_execute``:
    a subscription that ends by its socket closing never returns from
    ``on_operation``): its name and type then come from the document. A
    refused operation is described when it ends, by its document only (a
    client's ``operationName`` that names nothing in it, or a document
    with several operations and no name, says nothing true). A WebSocket
    operation's own span is named ``GraphQL Query`` and takes the
    operation's name only when it is one of ``known`` (the service's own
    documents), so a client cannot multiply span names."""

    def __init__(self, tracer: Tracer, known: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self._tracer = tracer
        self._known = known
        self._span: Span | None = None
        self._own = False
        """The span is this extension's (a WebSocket operation's), not the request's."""

    def on_operation(self) -> Iterator[None]:
        request = http_request_span.get()
        if request is not None:
            self._span = request if request.is_recording() else None
            try:
                yield from super().on_operation()
            finally:
                self._describe(executed=False)
            return
        with self._tracer.start_as_current_span(
            "GraphQL Query", kind=SpanKind.SERVER, attributes={"component": "graphql"}
        ) as span:
            self._span = span if span.is_recording() else None
            self._own = True
            try:
                with tallied(span):
                    yield from super().on_operation()
            finally:
                self._describe(executed=False)

    def on_execute(self) -> Iterator[None]:
        self._describe(executed=True)
        yield

    def _describe(self, executed: bool) -> None:
        """The operation on its span, once."""
        span, self._span = self._span, None
        if span is None:
            return
        context = self.execution_context
        attributes: dict[str, str] = {}
        name = context.operation_name if executed else None
        if isinstance(name, str) and name:
            attributes["graphql.operation.name"] = capped(name, NAME_CHARS)
            if self._own and name in self._known:
                span.update_name(f"GraphQL Query: {name}")
        else:
            name = None
        if executed:
            with contextlib.suppress(RuntimeError):  # no such operation in the document
                attributes["graphql.operation.type"] = context.operation_type.value
        if context.query and isinstance(context.query, str) and not name:
            attributes["graphql.document"] = capped(context.query, DOCUMENT_CHARS)
        span.set_attributes(attributes)
