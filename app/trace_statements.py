"""SQL statements in the trace, from the engine's public events, counted onto
the span they ran under: a recorded span that :func:`tallied` wraps (the
HTTP request's, a WebSocket operation's, a card read's) ends with

- ``microgrid.db.statements``: how many statements it sent, and
- ``microgrid.db.summaries``: each one's summary in order, in one string
  (``SELECT microgrids, INSERT events, ...``; at most MAX_SUMMARIES),

and a statement that failed is an event of its own, named by its summary,
with ``db.system``, ``db.operation.name`` and ``error.type``. The
statement's text is never recorded, nor are statement durations: the span's
own duration says how long the request took, and PostgreSQL says which
statement was slow (``pg_stat_statements``, ``log_min_duration_statement``).

Why so little: OpenTelemetry's SQLAlchemy instrumentation (a span per
statement and per pool checkout), then an event per statement, then a
duration per statement (a second engine event, and an object per statement
sent straight to asyncpg) each cost a traced request more than the 10% of
its server time tracing may take (bench/README.md, "Issue 17"): exporting
costs about 5 µs per attribute and 20 µs per event, and every Python call
per statement counts at nine statements a request. A tally is one listener
call, a dictionary lookup and two additions per statement, and two
attributes per span (the summaries one string, not a list: each list item
is encoded as a value of its own).

Nothing is tallied outside a recorded, tallied span: an unsampled request
costs one context-variable read per statement. Statements sent straight to
asyncpg (persistence.asyncpg_driver) fire the same event, so they are
counted too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
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
    summaries: list[str] = field(default_factory=list)
    open: bool = True
    """False once counted onto its span: a task that outlives it (started
    under it, so sharing its context) adds nothing more."""

    def attributes(self) -> dict[str, Any]:
        summaries = self.summaries
        count = len(summaries)
        if count > MAX_SUMMARIES:
            summaries = [*summaries[:MAX_SUMMARIES], "…"]
        return {"microgrid.db.statements": count, "microgrid.db.summaries": ", ".join(summaries)}


_current: ContextVar[_Tally | None] = ContextVar("statement_tally", default=None)


@contextmanager
def tallied(span: Span) -> Iterator[None]:
    """Statements sent while this runs are counted onto ``span`` (if it is
    being recorded) before it ends; an inner tallied span takes its own."""
    tally = start_tally(span)
    try:
        yield
    finally:
        end_tally(tally)


def start_tally(span: Span) -> Token[_Tally | None] | None:
    """:func:`tallied` in two calls, for a caller that cannot wrap its work
    in a ``with`` (or would rather not pay for one): statements sent from
    now on are counted onto ``span``, if it is being recorded."""
    if not span.is_recording():
        return None
    return _current.set(_Tally(span))


def end_tally(token: Token[_Tally | None] | None) -> None:
    """Ends what :func:`start_tally` started: the count onto its span."""
    if token is None:
        return
    tally = _current.get()
    _current.reset(token)
    if tally is not None:
        tally.open = False
        if tally.summaries:
            tally.span.set_attributes(tally.attributes())


class StatementEvents:
    """Listens to one or more engines; :meth:`remove` stops listening."""

    def __init__(self) -> None:
        self._summaries: dict[str, str] = {}
        self._engines: list[Engine] = []

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before, retval=True)
        event.listen(engine, "handle_error", self._error)
        self._engines.append(engine)

    def remove(self) -> None:
        for engine in self._engines:
            event.remove(engine, "before_cursor_execute", self._before)
            event.remove(engine, "handle_error", self._error)
        self._engines.clear()

    def _summary(self, statement: str) -> str:
        found = self._summaries.get(statement)
        if found is None:
            if len(self._summaries) >= SUMMARY_CACHE_SIZE:
                self._summaries.clear()
            found = self._summaries[statement] = summarize(statement)[1]
        return found

    def _before(
        self,
        _conn: Connection,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> tuple[str, Any]:
        tally = _current.get()
        if tally is not None and tally.open:
            tally.summaries.append(self._summary(statement))
        return statement, parameters

    def _error(self, exception_context: ExceptionContext) -> None:
        tally = _current.get()
        connection = exception_context.connection
        if tally is None or not tally.open or connection is None:
            return
        operation, summary = summarize(exception_context.statement or "")
        tally.span.add_event(
            summary,
            {
                "db.system": connection.dialect.name,
                "db.operation.name": operation,
                "error.type": type(exception_context.original_exception).__name__,
            },
        )
