"""After the server behind a pool goes away (a restart, a failover) or stops
taking writes, the pool keeps none of its connections: the statement that
noticed fails, and the next ones run on fresh connections — without a ping on
every checkout (persistence/stale_connections.py). On PostgreSQL only: the
conditions are the server's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.asyncpg_driver import AsyncpgDriver
from persistence.database import create_engine
from tests.support import own_postgres

POOLED = 4


@pytest.fixture
async def own_database() -> AsyncIterator[str]:
    async with own_postgres.own_database() as name:
        yield name


async def _fill_pool(engine: AsyncEngine) -> None:
    """``POOLED`` connections, held at once and returned: all idle in the pool."""
    connections = [await engine.connect() for _ in range(POOLED)]
    for connection in connections:
        await connection.scalar(text("SELECT 1"))
    for connection in connections:
        await connection.close()


async def _straight_to_asyncpg(engine: AsyncEngine) -> object:
    async with engine.connect() as connection:
        return await AsyncpgDriver(connection, in_transaction=False).run("fetchval", "SELECT 1")


async def test_a_lost_connection_on_a_driver_statement_drops_the_whole_pool(
    own_database: str,
) -> None:
    engine = create_engine(own_postgres.url_of(own_database))
    try:
        await _fill_pool(engine)
        await own_postgres.admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            own_database,
        )
        with pytest.raises(ConnectionError):
            await _straight_to_asyncpg(engine)
        # every other pooled connection was dead too: none of them is handed out again
        for _ in range(POOLED):
            assert await _straight_to_asyncpg(engine) == 1
    finally:
        await engine.dispose()


async def test_a_server_that_cannot_write_is_a_lost_connection(own_database: str) -> None:
    """A connection that reached a read-only server (a standby, a primary demoted
    in a failover) is not kept: its error says the connection was invalidated,
    and once the server takes writes again, so do the next transactions."""
    engine = create_engine(own_postgres.url_of(own_database))
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x int)"))
        await engine.dispose()
        await own_postgres.admin(
            f'ALTER DATABASE "{own_database}" SET default_transaction_read_only = on'
        )
        await _fill_pool(engine)  # every pooled connection is read-only

        with pytest.raises(DBAPIError) as refused:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (1)"))
        assert refused.value.connection_invalidated
        async with engine.connect() as connection:
            with pytest.raises(ConnectionError):
                await AsyncpgDriver(connection).run("execute", "INSERT INTO t VALUES (2)")

        await own_postgres.admin(
            f'ALTER DATABASE "{own_database}" RESET default_transaction_read_only'
        )
        for n in range(POOLED):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM t")) == POOLED
    finally:
        await engine.dispose()


async def test_statements_in_flight_elsewhere_are_not_disturbed(own_database: str) -> None:
    """Condemning the pool closes idle connections only at their next checkout:
    a transaction already running on a live connection finishes."""
    engine = create_engine(own_postgres.url_of(own_database))
    try:
        async with engine.connect() as busy:
            await busy.scalar(text("SELECT 1"))
            victim = await engine.connect()
            pid = await victim.scalar(text("SELECT pg_backend_pid()"))
            await own_postgres.admin("SELECT pg_terminate_backend($1)", pid)
            with pytest.raises(ConnectionError):
                await AsyncpgDriver(victim, in_transaction=False).run("fetchval", "SELECT 1")
            await victim.close()
            assert await busy.scalar(text("SELECT 2")) == 2
        assert await _straight_to_asyncpg(engine) == 1
    finally:
        await engine.dispose()
