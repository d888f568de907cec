"""The GraphQL operation's span, through Strawberry's public extension
hooks: no span per resolved field, none for parsing and validation.

Strawberry's own OpenTelemetryExtension makes a span for every field it
resolves and, because it implements the ``resolve`` hook, routes every
resolver through an awaitable wrapper: a measurable part of what tracing
cost a request (bench/README.md, "Issue 17"). This extension does not
implement ``resolve`` (Strawberry then adds no field middleware at all),
names the span as Strawberry's does (``GraphQL Query: <name>``; parsing and
validation are inside it, not spans of their own) and makes the operation span
current while the operation runs, so the statements its resolvers send are
its children."""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry.trace import SpanKind, Tracer
from strawberry.extensions import SchemaExtension


class OperationSpans(SchemaExtension):
    """One per operation (Strawberry makes it from the factory it is given)."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def on_operation(self) -> Iterator[None]:
        name = self.execution_context.operation_name
        with self._tracer.start_as_current_span(
            f"GraphQL Query: {name}" if name else "GraphQL Query",
            kind=SpanKind.SERVER,
            attributes={"component": "graphql"},
        ) as span:
            yield
            resolved = self.execution_context.operation_name
            if span.is_recording():
                if resolved:
                    span.set_attribute("graphql.operation.name", resolved)
                    if not name:
                        span.update_name(f"GraphQL Query: {resolved}")
                if self.execution_context.query:
                    span.set_attribute("graphql.document", self.execution_context.query)
