"""The one place that relies on SQLAlchemy names outside its public API
(DESIGN §1). ``tests/persistence/test_sqlalchemy_internals.py`` checks each
name, its signature and the behaviour relied on, so an upgrade fails a test
rather than production; SQLAlchemy is pinned to a compatible minor range in
``pyproject.toml``.

- ``AsyncAdapt_asyncpg_connection._start_transaction()``: SQLAlchemy's asyncpg
  adapter begins its transaction lazily, at its first statement, so one sent
  straight to the driver first would run outside it. Beginning it through a
  statement sent by SQLAlchemy instead (public) cost the ingest path
  measurably more server CPU (bench/README.md, "Ingest").
- ``Connection.dispatch.before_cursor_execute`` and ``after_cursor_execute``:
  a statement sent straight to the driver is announced to the engine's
  ``before_cursor_execute`` listeners (the /metrics statement counter, the N+1
  tests) as SQLAlchemy announces its own, and, when something listens to
  ``after_cursor_execute`` too (tracing: a span per statement), its end, with
  one context object for both, as SQLAlchemy's execution context is. Listening
  to these events is public; firing them is not."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


async def begin_adapter_transaction(connection: AsyncConnection) -> None:
    """Begin the transaction SQLAlchemy's asyncpg adapter would begin at its
    next statement; SQLAlchemy commits or rolls it back as its own."""
    pooled = await connection.get_raw_connection()
    adapter: Any = pooled.dbapi_connection
    await adapter._start_transaction()


class AnnouncedStatement:
    """Stands for the execution context of a statement SQLAlchemy does not
    send: what a listener keeps on it between the two events (a span), and
    the (no) execution options a listener may read, as on SQLAlchemy's."""

    execution_options: Mapping[str, Any] = MappingProxyType({})


def announce_statement(
    connection: AsyncConnection, sql: str, parameters: tuple[Any, ...]
) -> Callable[[], None] | None:
    """Fire ``before_cursor_execute`` for a statement SQLAlchemy does not send;
    returns what fires ``after_cursor_execute`` once it has run (``None``:
    nobody listens to that, and the context stays ``None`` as before)."""
    sync = connection.sync_connection
    if sync is None:
        return None
    dispatch = sync.dispatch
    context = AnnouncedStatement() if dispatch.after_cursor_execute else None
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(sync, None, sql, parameters, context, False)
    if context is None:
        return None
    return lambda: dispatch.after_cursor_execute(sync, None, sql, parameters, context, False)
