"""Guard for the SQLAlchemy names used outside its public API
(persistence/sqlalchemy_internals.py): each name, its signature and the
behaviour relied on, so an upgrade that changes them fails here rather than in
production."""

from __future__ import annotations

import inspect
from uuid import uuid4

import pytest
from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.engine import Connection
from sqlalchemy.events import ConnectionEvents

from persistence.database import create_engine
from persistence.sqlalchemy_internals import announce_statement, begin_adapter_transaction


def test_the_asyncpg_adapter_still_begins_its_transaction_with_start_transaction():
    start = AsyncAdapt_asyncpg_connection._start_transaction
    assert inspect.iscoroutinefunction(start)
    assert list(inspect.signature(start).parameters) == ["self"]


@pytest.mark.stores("postgresql")
@pytest.mark.database_only("SQLAlchemy's asyncpg adapter")
async def test_the_begun_transaction_is_the_one_sqlalchemy_commits_and_rolls_back(database_url):
    engine = create_engine(database_url)
    kept, dropped = uuid4(), uuid4()
    try:
        for depot_id, end in ((dropped, "rollback"), (kept, "commit")):
            async with engine.connect() as conn:
                await conn.begin()
                driver = (await conn.get_raw_connection()).driver_connection
                assert not driver.is_in_transaction(), "the adapter still begins lazily"
                await begin_adapter_transaction(conn)
                assert driver.is_in_transaction()
                await driver.execute(
                    "INSERT INTO depots (id, name, created_at) VALUES ($1, 'd', now())", depot_id
                )
                await getattr(conn, end)()
                assert not driver.is_in_transaction()
        async with engine.connect() as conn:
            found = (await conn.execute(text("SELECT id FROM depots"))).scalars().all()
    finally:
        await engine.dispose()
    assert found == [kept]


@pytest.mark.parametrize("hook", ["before_cursor_execute", "after_cursor_execute"])
def test_the_cursor_events_keep_the_signature_announce_statement_calls(hook: str):
    parameters = list(inspect.signature(getattr(ConnectionEvents, hook)).parameters)
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


async def test_an_announced_statement_ends_with_the_context_it_began_with(tmp_path):
    """With an ``after_cursor_execute`` listener (tracing), both events see one
    context object, on which a listener keeps what it began (a span)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    began: list[object] = []
    ended: list[object] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        context.kept = statement
        began.append(context)

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        ended.append((context, context.kept, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    try:
        async with engine.connect() as connection:
            ran = announce_statement(connection, "SELECT $1", (7,))
            assert ran is not None and ended == []
            ran()
    finally:
        await engine.dispose()
    (context,) = began
    assert ended == [(context, "SELECT $1", (7,))]
