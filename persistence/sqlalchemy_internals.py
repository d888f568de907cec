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
- ``Connection.dispatch.before_cursor_execute``: a statement sent straight to
  the driver is announced to the engine's ``before_cursor_execute`` listeners
  (the /metrics statement counter, the N+1 tests) as SQLAlchemy announces its
  own. Listening to that event is public; firing it is not."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


async def begin_adapter_transaction(connection: AsyncConnection) -> None:
    """Begin the transaction SQLAlchemy's asyncpg adapter would begin at its
    next statement; SQLAlchemy commits or rolls it back as its own."""
    pooled = await connection.get_raw_connection()
    adapter: Any = pooled.dbapi_connection
    await adapter._start_transaction()


def announce_statement(connection: AsyncConnection, sql: str, parameters: tuple[Any, ...]) -> None:
    """Fire ``before_cursor_execute`` for a statement SQLAlchemy does not send."""
    sync = connection.sync_connection
    if sync is not None and sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, sql, parameters, None, False)
