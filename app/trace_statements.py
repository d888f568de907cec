"""SQL statements in the trace, from the engine's public cursor events,
summed onto the span they ran under: a recorded span that :func:`tallied`
wraps (the HTTP request's, the GraphQL operation's, a card read's) ends with

- ``microgrid.db.statements``: how many statements it sent,
- ``microgrid.db.duration``: their seconds in all, and
- ``microgrid.db.summaries``: each one's summary in order, in one string
  (``SELECT microgrids, INSERT events, ...``; at most MAX_SUMMARIES),

and a statement that failed, or took SLOW_STATEMENT_SECONDS or more, is
also an event of its own, named by its summary, with ``db.system``,
``db.operation.name``, ``db.client.operation.duration`` and, when it failed,
``error.type``. The statement's text is never recorded.

Why not a span or an event per statement: OpenTelemetry's SQLAlchemy
instrumentation (a span per statement and per pool checkout, attributes
worked out before the sampler decides) and then an event per statement each
cost more than the 10% of a request's server time tracing may take
(bench/README.md, "Issue 17"): exporting costs about 5 µs per attribute
and 20 µs per event, so nine statement events cost more than the request
span. A tally is a few additions per statement and three attributes per
span (the summaries one string, not a list: each list item is encoded as an
attribute value of its own); the slow and the failed statements, the ones
an on-call engineer looks for, keep their own event.

Nothing happens outside a recorded, tallied span: an unsampled request costs
one context-variable read per statement. Statements sent straight to asyncpg
(persistence.asyncpg_driver) fire the same two events with a context object
of their own, so they are counted too."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import Span
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

SUMMARY_CACHE_SIZE = 512
"""Distinct statement texts whose name and summary are kept (cleared when
full: statements come from a bounded set of compiled queries)."""
MAX_SUMMARIES = 64
"""Summaries listed per span (a longer list ends with ``…``); the count is exact."""
SLOW_STATEMENT_SECONDS = 0.05
"""A statement that takes this long or longer is an event of its own."""
_TARGET = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?([A-Za-z_][A-Za-z0-9_.]*)", re.IGNORECASE)


def summarize(statement: str) -> tuple[str, str]:
    """(operation, summary) of a SQL statement: ``("SELECT", "SELECT microgrids")``;
    a statement without a recognisable table is summarised by its operation."""
    words = statement.split(None, 1)
    operation = words[0].upper() if words else "SQL"
    target = _TARGET.search(statement)
    return operation, f"{operation} {target.group(1)}" if target else operation


@dataclass(slots=True)
class _Tally:
    span: Span
    count: int = 0
    seconds: float = 0.0
    summaries: list[str] = field(default_factory=list)
    running: dict[int, float] = field(default_factory=dict)
    """Start (perf_counter) of each statement in flight, by its context's id."""

    def attributes(self) -> dict[str, Any]:
        summaries = self.summaries
        if len(summaries) > MAX_SUMMARIES:
            summaries = [*summaries[:MAX_SUMMARIES], "…"]
        return {
            "microgrid.db.statements": self.count,
            "microgrid.db.duration": self.seconds,
            "microgrid.db.summaries": ", ".join(summaries),
        }


_current: ContextVar[_Tally | None] = ContextVar("statement_tally", default=None)


@contextmanager
def tallied(span: Span) -> Iterator[None]:
    """Statements sent while this runs are summed onto ``span`` (if it is
    being recorded) before it ends; an inner tallied span takes its own."""
    if not span.is_recording():
        yield
        return
    tally = _Tally(span)
    token = _current.set(tally)
    try:
        yield
    finally:
        _current.reset(token)
        if tally.count:
            span.set_attributes(tally.attributes())


class StatementEvents:
    """Listens to one or more engines; :meth:`remove` stops listening."""

    def __init__(self) -> None:
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
        _conn: Connection,
        _cursor: Any,
        _statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        tally = _current.get()
        if tally is not None and context is not None:
            tally.running[id(context)] = time.perf_counter()

    def _after(
        self, conn: Connection, _cursor: Any, statement: str, _p: Any, context: Any, _m: bool
    ) -> None:
        if context is not None:
            self._record(conn, statement, context, None)

    def _error(self, exception_context: ExceptionContext) -> None:
        context = exception_context.execution_context
        connection = exception_context.connection
        if context is not None and connection is not None:
            error = type(exception_context.original_exception).__name__
            self._record(connection, exception_context.statement or "", context, error)

    def _record(self, conn: Connection, statement: str, context: Any, error: str | None) -> None:
        tally = _current.get()
        started = None if tally is None else tally.running.pop(id(context), None)
        if tally is None or started is None:
            return
        seconds = time.perf_counter() - started
        operation, summary = self._summary(statement)
        tally.count += 1
        tally.seconds += seconds
        tally.summaries.append(summary)
        if error is None and seconds < SLOW_STATEMENT_SECONDS:
            return
        attributes: dict[str, str | float] = {
            "db.system": conn.dialect.name,
            "db.operation.name": operation,
            "db.client.operation.duration": seconds,
        }
        if error is not None:
            attributes["error.type"] = error
        tally.span.add_event(summary, attributes, time.time_ns() - int(seconds * 1e9))
