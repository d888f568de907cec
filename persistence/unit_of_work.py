"""One database transaction per use case, with the repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from persistence.database import is_sqlite
from persistence.repositories import SqlCircuits, SqlDepots, SqlEquipment, SqlMicrogrids


class SqlUnitOfWork:
    depots: SqlDepots
    circuits: SqlCircuits
    microgrids: SqlMicrogrids
    equipment: SqlEquipment

    def __init__(self, engine: AsyncEngine, write: bool = True) -> None:
        self._engine = engine
        self._write = write
        self._connection: AsyncConnection | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        connection = await self._engine.connect()
        if self._write and is_sqlite(self._engine):
            connection = await connection.execution_options(sqlite_begin="IMMEDIATE")
        await connection.begin()
        self._connection = connection
        self.depots = SqlDepots(connection)
        self.circuits = SqlCircuits(connection)
        self.microgrids = SqlMicrogrids(connection)
        self.equipment = SqlEquipment(connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None
        try:
            if not self._committed:
                await self._connection.rollback()
        finally:
            await self._connection.close()
            self._connection = None

    async def commit(self) -> None:
        assert self._connection is not None
        await self._connection.commit()
        self._committed = True


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write)
