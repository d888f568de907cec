"""One database transaction per use case, with the repositories bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.audit import AuditEntry
from domain.changes import Change, Publisher
from persistence import ingest_on_asyncpg as on_asyncpg
from persistence.asyncpg_driver import AsyncpgDriver
from persistence.audit_store import SqlAuditLog
from persistence.database import is_sqlite
from persistence.event_store import SqlCapabilityEvents, SqlLatestStatuses
from persistence.flag_store import SqlFlagSettings
from persistence.reading_store import SqlReadings
from persistence.repositories import SqlCircuits, SqlDepots, SqlEquipment, SqlMicrogrids
from persistence.sensor_store import SqlPacketFacts, SqlPacketRecords, SqlSensorActions


class SqlUnitOfWork:
    depots: SqlDepots
    circuits: SqlCircuits
    microgrids: SqlMicrogrids
    equipment: SqlEquipment
    events: SqlCapabilityEvents
    latest: SqlLatestStatuses
    sensor_actions: SqlSensorActions
    packets: SqlPacketRecords
    audit_log: SqlAuditLog
    flags: SqlFlagSettings
    readings: SqlReadings
    packet_facts: SqlPacketFacts

    def __init__(
        self,
        engine: AsyncEngine,
        write: bool = True,
        publisher: Publisher | None = None,
        actor: UUID | None = None,
    ) -> None:
        self._engine = engine
        self._actor = actor
        self._audit: list[AuditEntry] = []
        self._write = write
        self._publisher = publisher
        self._connection: AsyncConnection | None = None
        self._committed = False
        self._changes: list[Change] = []

    async def __aenter__(self) -> Self:
        connection = await self._engine.connect()
        if self._write and is_sqlite(self._engine):
            connection = await connection.execution_options(sqlite_begin="IMMEDIATE")
        await connection.begin()
        self._connection = connection
        self.depots = SqlDepots(connection)
        if is_sqlite(self._engine):
            self.circuits = SqlCircuits(connection)
            self.equipment = SqlEquipment(connection)
            self.packet_facts = SqlPacketFacts(connection)
            self.microgrids = SqlMicrogrids(connection)
            self.events = SqlCapabilityEvents(connection)
            self.latest = SqlLatestStatuses(connection)
            self.sensor_actions = SqlSensorActions(connection)
            self.readings = SqlReadings(connection)
            self.packets = SqlPacketRecords(connection)
        else:
            driver = AsyncpgDriver(connection)
            self.circuits = on_asyncpg.AsyncpgCircuits(connection, driver)
            self.equipment = on_asyncpg.AsyncpgEquipment(connection, driver)
            self.packet_facts = on_asyncpg.AsyncpgPacketFacts(connection, driver)
            self.microgrids = on_asyncpg.AsyncpgMicrogrids(connection, driver)
            self.events = on_asyncpg.AsyncpgCapabilityEvents(connection, driver)
            self.latest = on_asyncpg.AsyncpgLatestStatuses(connection, driver)
            self.sensor_actions = on_asyncpg.AsyncpgSensorActions(connection, driver)
            self.readings = on_asyncpg.AsyncpgReadings(connection, driver)
            self.packets = on_asyncpg.AsyncpgPacketRecords(connection, driver)
        self.audit_log = SqlAuditLog(connection)
        self.flags = SqlFlagSettings(connection, self._actor)
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

    def notify(self, change: Change) -> None:
        self._changes.append(change)

    def audit(self, entry: AuditEntry) -> None:
        self._audit.append(entry)

    async def commit(self) -> None:
        assert self._connection is not None
        if self._audit:
            entries, self._audit = self._audit, []
            await self.audit_log.write(entries, self._actor)
        await self._connection.commit()
        self._committed = True
        if self._changes and self._publisher is not None:
            changes, self._changes = self._changes, []
            await self._publisher.publish(changes)


class SqlUnitOfWorkFactory:
    def __init__(
        self, engine: AsyncEngine, publisher: Publisher | None = None, actor: UUID | None = None
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.actor = actor

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write=write, publisher=self.publisher, actor=self.actor)

    def for_actor(self, token_id: UUID) -> SqlUnitOfWorkFactory:
        """Units of work whose audit entries name this token."""
        return SqlUnitOfWorkFactory(self.engine, self.publisher, token_id)
