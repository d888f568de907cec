"""SQL statements in the trace, from the engine's public cursor events:
each one an *event* on the span that is current when it is sent (the
GraphQL operation's, a card read's, the request's), named by its summary
(``SELECT microgrids``) and carrying its start, its duration and the
database, made only when that span is being recorded (a sampled request).

It stands in for OpenTelemetry's SQLAlchemy instrumentation, which cost
most of what tracing cost a request (bench/README.md, "Issue 17"): it
wraps ``create_engine`` and ``Engine.connect`` for the whole process, makes
a span for every pool checkout and every statement, records pool metrics
and computes each statement's attributes before it knows whether the span
will be kept. An event costs a fraction of a span to make and to export
(no ids, no sampler, no processor), and a trace viewer shows it on the
timeline of the span it belongs to; the statement's text is not recorded
(its summary, worked out once per distinct text, names it).

Statements sent straight to asyncpg (persistence.asyncpg_driver) fire the
same two events with a context object of their own, so they are recorded
too; a failed statement's event says so (``error.type``)."""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

SUMMARY_CACHE_SIZE = 512
"""Distinct statement texts whose name and summary are kept (cleared when
full: statements come from a bounded set of compiled queries)."""
_TARGET = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?([A-Za-z_][A-Za-z0-9_.]*)", re.IGNORECASE)


def summarize(statement: str) -> tuple[str, str]:
    """(operation, summary) of a SQL statement: ``("SELECT", "SELECT microgrids")``;
    a statement without a recognisable table is summarised by its operation."""
    words = statement.split(None, 1)
    operation = words[0].upper() if words else "SQL"
    target = _TARGET.search(statement)
    return operation, f"{operation} {target.group(1)}" if target else operation


@dataclass(slots=True)
class _Running:
    span: Span
    summary: str
    operation: str
    system: str
    wall_ns: int
    started: float


class StatementEvents:
    """Listens to one or more engines; :meth:`remove` stops listening."""

    def __init__(self) -> None:
        self._running: weakref.WeakKeyDictionary[Any, _Running] = weakref.WeakKeyDictionary()
        self._summaries: dict[str, tuple[str, str]] = {}
        self._engines: list[Engine] = []

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "handle_error", self._error)
        self._engines.append(engine)

    def remove(self) -> None:
        for engine in self._engines:
            event.remove(engine, "before_cursor_execute", self._before)
            event.remove(engine, "after_cursor_execute", self._after)
            event.remove(engine, "handle_error", self._error)
        self._engines.clear()

    def _summary(self, statement: str) -> tuple[str, str]:
        found = self._summaries.get(statement)
        if found is None:
            if len(self._summaries) >= SUMMARY_CACHE_SIZE:
                self._summaries.clear()
            found = self._summaries[statement] = summarize(statement)
        return found

    def _before(
        self,
        conn: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        if context is None:
            return
        span = trace.get_current_span()
        if not span.is_recording():
            return
        operation, summary = self._summary(statement)
        self._running[context] = _Running(
            span, summary, operation, conn.dialect.name, time.time_ns(), time.perf_counter()
        )

    def _after(
        self, _conn: Connection, _cursor: Any, _s: str, _p: Any, context: Any, _m: bool
    ) -> None:
        if context is not None:
            self._record(context, None)

    def _error(self, exception_context: ExceptionContext) -> None:
        context = exception_context.execution_context
        if context is not None:
            self._record(context, type(exception_context.original_exception).__name__)

    def _record(self, context: Any, error: str | None) -> None:
        running = self._running.pop(context, None)
        if running is None:
            return
        attributes: dict[str, str | float] = {
            "db.system": running.system,
            "db.operation.name": running.operation,
            "db.client.operation.duration": time.perf_counter() - running.started,
        }
        if error is not None:
            attributes["error.type"] = error
        running.span.add_event(running.summary, attributes, running.wall_ns)
