"""PostgreSQL: the capability-status append path sent straight to asyncpg,
inside the unit of work's transaction.

Through SQLAlchemy Core each of these statements cost ~150 µs of CPU more than
through the driver (cache keys, the greenlet bridge, result wrapping); the nine
of one ingest took ~1.7 ms of its ~4.7 (bench/profile_ingest.py). These
classes override only the hot methods; everything else, and the whole SQLite
store, stays on SQLAlchemy. The repository contract tests run on both stores,
so both paths answer the same."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.access import EVERYWHERE, Scope
from domain.capability import CapabilityType, StatusEvent
from domain.model import SensorAction, SensorActionType
from persistence.event_store import (
    CAPABILITY_STATUS_RECORDED,
    SqlCapabilityEvents,
    SqlLatestStatuses,
    _event,
    _latest_event,
    _payload,
)
from persistence.repositories import SqlMicrogrids
from persistence.sensor_store import SqlSensorActions, _action

_LOST = (
    asyncpg.PostgresConnectionError,  # the connection broke
    asyncpg.exceptions.OperatorInterventionError,  # the server is shutting down or restarting
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # the protocol is in an unknown state
    OSError,
)


def connection_lost(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from (SQLAlchemy wraps the
    driver's), says the database connection broke or the server is restarting."""
    cause: BaseException | None = error
    for _ in range(8):
        if cause is None:
            return False
        if isinstance(cause, _LOST):
            return True
        cause = cause.__cause__
    return False


class Driver:
    """The asyncpg connection under one unit of work's SQLAlchemy connection."""

    def __init__(self, connection: AsyncConnection, in_transaction: bool = True) -> None:
        self._connection = connection
        self._in_transaction = in_transaction
        self._driver: asyncpg.Connection | None = None

    async def _get(self) -> asyncpg.Connection:
        if self._driver is None:
            raw = await self._connection.get_raw_connection()
            adapted: Any = raw.dbapi_connection
            # SQLAlchemy's asyncpg adapter begins its transaction lazily, at its
            # first statement: one sent to the driver first would run outside it.
            if self._in_transaction and adapted._transaction is None:
                await adapted._start_transaction()
            self._driver = adapted._connection
        return self._driver

    def _announce(self, sql: str, args: tuple[Any, ...]) -> None:
        """Listeners of SQLAlchemy's ``before_cursor_execute`` (the /metrics
        statement counter, the N+1 test) see these statements too."""
        sync = self._connection.sync_connection
        if sync is not None and sync.dispatch.before_cursor_execute:
            sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)

    async def run(self, method: str, sql: str, *args: Any) -> Any:
        """``fetch``/``fetchrow``/``fetchval``/``execute`` on the driver. A lost
        or confused connection is dropped from the pool (SQLAlchemy's own error
        handling does that for its statements, not for these) and reported as
        ``ConnectionError``: a retryable SERVICE_UNAVAILABLE for the client."""
        driver = await self._get()
        self._announce(sql, args)
        try:
            return await getattr(driver, method)(sql, *args)
        except _LOST as error:
            await self._connection.invalidate()
            raise ConnectionError("the database connection was lost") from error
        except asyncio.CancelledError:
            # Interrupted mid-statement, the connection must not go back to the pool.
            await self._connection.invalidate()
            raise


class _OnDriver:
    """A repository whose hot methods use the unit of work's :class:`Driver`."""

    def __init__(self, connection: AsyncConnection, driver: Driver) -> None:
        super().__init__(connection)  # type: ignore[call-arg]
        self._driver = driver


class PgMicrogrids(_OnDriver, SqlMicrogrids):
    async def depot_of(self, microgrid_id: UUID, scope: Scope = EVERYWHERE) -> UUID | None:
        depots = None if scope.depot_ids is None else sorted(scope.depot_ids)
        depot_id: UUID | None = await self._driver.run(
            "fetchval",
            "SELECT depot_id FROM microgrids WHERE id = $1 AND retired_at IS NULL"
            " AND ($2::uuid[] IS NULL OR depot_id = ANY($2::uuid[]))",
            microgrid_id,
            depots,
        )
        return depot_id

    async def bump_revision(self, microgrid_id: UUID) -> int:
        return int(
            await self._driver.run(
                "fetchval",
                "UPDATE microgrids SET revision = revision + 1 WHERE id = $1 RETURNING revision",
                microgrid_id,
            )
        )


class PgCapabilityEvents(_OnDriver, SqlCapabilityEvents):
    async def reserve_sequence(self, microgrid_id: UUID) -> int:
        return int(
            await self._driver.run(
                "fetchval",
                "INSERT INTO event_streams (stream_id, last_sequence) VALUES ($1, 1) "
                "ON CONFLICT (stream_id) DO UPDATE "
                "SET last_sequence = event_streams.last_sequence + 1 RETURNING last_sequence",
                microgrid_id,
            )
        )

    async def find(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        row = await self._driver.run(
            "fetchrow",
            "SELECT id, stream_id, sequence, payload, recorded_at FROM events "
            "WHERE stream_id = $1 AND idempotency_key = $2",
            microgrid_id,
            idempotency_key,
        )
        return None if row is None else _event(row)

    async def append(self, event: StatusEvent) -> None:
        o = event.observation
        await self._driver.run(
            "execute",
            "INSERT INTO events (id, stream_id, sequence, event_type, subject, idempotency_key,"
            " payload, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8)",
            event.id,
            o.microgrid_id,
            event.sequence,
            CAPABILITY_STATUS_RECORDED,
            o.capability.value,
            o.idempotency_key,
            json.dumps(_payload(event)),
            event.received_at,
        )


class PgLatestStatuses(_OnDriver, SqlLatestStatuses):
    async def for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, dict[CapabilityType, StatusEvent]]:
        rows = await self._driver.run(
            "fetch",
            "SELECT * FROM capability_latest WHERE microgrid_id = ANY($1::uuid[])",
            list(microgrid_ids),
        )
        found: dict[UUID, dict[CapabilityType, StatusEvent]] = {}
        for r in rows:
            event = _latest_event(r)
            found.setdefault(r["microgrid_id"], {})[event.observation.capability] = event
        return found

    async def put(self, event: StatusEvent) -> None:
        o = event.observation
        await self._driver.run(
            "execute",
            "INSERT INTO capability_latest (microgrid_id, capability, event_id, sequence, value,"
            " observed_at, received_at, provider_event_ref, source_device_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (microgrid_id, capability) DO UPDATE SET"
            " event_id = EXCLUDED.event_id, sequence = EXCLUDED.sequence,"
            " value = EXCLUDED.value, observed_at = EXCLUDED.observed_at,"
            " received_at = EXCLUDED.received_at,"
            " provider_event_ref = EXCLUDED.provider_event_ref,"
            " source_device_id = EXCLUDED.source_device_id",
            o.microgrid_id,
            o.capability.value,
            event.id,
            event.sequence,
            o.value,
            o.observed_at,
            event.received_at,
            o.provider_event_ref,
            o.source_device_id,
        )


class PgSensorActions(_OnDriver, SqlSensorActions):
    async def bindings_for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, list[SensorAction]]:
        rows = await self._driver.run(
            "fetch",
            "SELECT * FROM sensor_actions WHERE microgrid_id = ANY($1::uuid[]) AND type = $2",
            list(microgrid_ids),
            SensorActionType.UPDATE_MICROGRID_STATE.value,
        )
        grouped: dict[UUID, list[SensorAction]] = {}
        for r in rows:
            grouped.setdefault(r["microgrid_id"], []).append(_action(r))
        return grouped
