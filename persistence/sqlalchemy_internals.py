"""The one place that relies on a SQLAlchemy name outside its public API
(DESIGN §1). ``tests/persistence/test_sqlalchemy_internals.py`` checks each
name and its signature, so an upgrade fails a test rather than production;
SQLAlchemy is pinned to a compatible minor range in ``pyproject.toml``.

- ``Connection.dispatch.before_cursor_execute``: a statement sent straight to
  the driver is announced to the engine's ``before_cursor_execute`` listeners
  (the /metrics statement counter, the N+1 tests) as SQLAlchemy announces its
  own. Listening to that event is public; firing it is not."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


def announce_statement(connection: AsyncConnection, sql: str, parameters: tuple[Any, ...]) -> None:
    """Fire ``before_cursor_execute`` for a statement SQLAlchemy does not send."""
    sync = connection.sync_connection
    if sync is not None and sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, sql, parameters, None, False)
