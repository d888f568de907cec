"""Statements sent straight to asyncpg, on the connection (and inside the
transaction) of a SQLAlchemy ``AsyncConnection``.

SQLAlchemy adds CPU time to every statement it sends (cache keys, the greenlet
bridge, result wrapping); on the hottest paths that is most of a statement's
cost, so they talk to the driver directly (bench/README.md, "Ingest"). The
driver connection is SQLAlchemy's public ``driver_connection``; whether it is
in a transaction, asyncpg's public ``is_in_transaction()``. Only beginning the
adapter's transaction needs a SQLAlchemy internal
(:mod:`persistence.sqlalchemy_internals`)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import PoolProxiedConnection

from persistence.lost_connection import LOST_CONNECTION_ERRORS
from persistence.sqlalchemy_internals import announce_statement, begin_adapter_transaction
from persistence.stale_connections import condemn_pool

Fetch = Literal["fetch", "fetchrow", "fetchval", "execute"]
"""asyncpg's ways to run a statement: all rows, the first row, its first value,
or no rows at all."""


class AsyncpgDriver:
    """The asyncpg connection under one SQLAlchemy connection."""

    def __init__(self, connection: AsyncConnection, in_transaction: bool = True) -> None:
        self._connection = connection
        self._in_transaction = in_transaction
        self._driver: asyncpg.Connection | None = None
        self._pooled: PoolProxiedConnection | None = None

    async def _driver_connection(self) -> asyncpg.Connection:
        if self._driver is None:
            pooled = await self._connection.get_raw_connection()
            driver = pooled.driver_connection
            assert isinstance(driver, asyncpg.Connection)
            self._driver, self._pooled = driver, pooled
        return self._driver

    async def run(self, fetch: Fetch, sql: str, *args: Any) -> Any:
        """``fetch``/``fetchrow``/``fetchval``/``execute`` on the driver, inside
        the SQLAlchemy connection's transaction (begun first if it has not been:
        the first statement of a unit of work, or the first after a commit).

        A lost or confused connection, or one to a server that cannot write, is
        dropped from the pool together with every other connection the pool
        holds (SQLAlchemy's own error handling does that for its statements,
        not for these) and reported as ``ConnectionError``: a retryable
        SERVICE_UNAVAILABLE for the client."""
        driver = await self._driver_connection()
        ran = announce_statement(self._connection, sql, args)
        try:
            if self._in_transaction and not driver.is_in_transaction():
                await begin_adapter_transaction(self._connection)
            return await getattr(driver, fetch)(sql, *args)
        except LOST_CONNECTION_ERRORS as error:
            if self._pooled is not None:
                condemn_pool(self._pooled)
            await self._connection.invalidate()
            raise ConnectionError("the database connection was lost") from error
        except asyncio.CancelledError:
            # Interrupted mid-statement, the connection must not go back to the pool.
            await self._connection.invalidate()
            raise
        finally:
            if ran is not None:
                ran()
