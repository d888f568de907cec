"""Guard for the one SQLAlchemy name used outside its public API
(persistence/sqlalchemy_internals.py): the name and its signature, so an
upgrade that changes them fails here rather than in production."""

from __future__ import annotations

import inspect

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.events import ConnectionEvents

from persistence.database import create_engine
from persistence.sqlalchemy_internals import announce_statement


def test_before_cursor_execute_keeps_the_signature_announce_statement_calls():
    parameters = list(inspect.signature(ConnectionEvents.before_cursor_execute).parameters)
    assert parameters == [
        "self",
        "conn",
        "cursor",
        "statement",
        "parameters",
        "context",
        "executemany",
    ]
    assert hasattr(Connection, "dispatch"), "announce_statement fires Connection.dispatch"


async def test_an_announced_statement_reaches_the_engines_listeners(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    seen: list[tuple[object, ...]] = []

    def listener(
        conn: Connection,
        cursor: object,
        statement: str,
        parameters: object,
        context: object,
        executemany: bool,
    ) -> None:
        seen.append((statement, parameters, cursor, context, executemany))

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with engine.connect() as connection:
            announce_statement(connection, "SELECT $1", (7,))
    finally:
        await engine.dispose()
    assert seen == [("SELECT $1", (7,), None, None, False)]
