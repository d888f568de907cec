"""The append-only event store and the latest-status projection.

Events are generic rows (stream, gap-free sequence, type, subject, idempotency
key, JSON payload); this module maps capability-status events in and out."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Uuid, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite

from domain.capability import CapabilityType, Observation, StatusEvent
from domain.plausible.instants import readable_instant, readable_instant_text
from persistence import tables as t
from persistence.repositories import _chunks, _Repository
from persistence.types import UtcDateTime

CAPABILITY_STATUS_RECORDED = "CapabilityStatusRecorded"


def event_payload(event: StatusEvent) -> dict[str, Any]:
    o = event.observation
    return {
        "capability": o.capability.value,
        "value": o.value,
        "observedAt": o.observed_at.isoformat(),
        "providerEventRef": o.provider_event_ref,
        "sourceDeviceId": str(o.source_device_id) if o.source_device_id else None,
        "appliedToLatest": event.applied_to_latest,
    }


def event_from_row(row: Mapping[Any, Any]) -> StatusEvent:
    """An event row (SQLAlchemy's ``row._mapping`` or an asyncpg record)."""
    p = row["payload"]
    return StatusEvent(
        id=row["id"],
        observation=Observation(
            microgrid_id=row["stream_id"],
            capability=CapabilityType(p["capability"]),
            value=bool(p["value"]),
            observed_at=readable_instant_text(p["observedAt"]),
            provider_event_ref=p["providerEventRef"],
            source_device_id=UUID(p["sourceDeviceId"]) if p["sourceDeviceId"] else None,
        ),
        received_at=readable_instant(row["recorded_at"]),
        sequence=int(row["sequence"]),
        applied_to_latest=bool(p["appliedToLatest"]),
    )


def latest_event_from_row(r: Mapping[Any, Any]) -> StatusEvent:
    """A ``capability_latest`` row (SQLAlchemy's ``row._mapping`` or an asyncpg record)."""
    return StatusEvent(
        id=r["event_id"],
        observation=Observation(
            r["microgrid_id"],
            CapabilityType(r["capability"]),
            bool(r["value"]),
            readable_instant(r["observed_at"]),
            r["provider_event_ref"],
            r["source_device_id"],
        ),
        received_at=readable_instant(r["received_at"]),
        sequence=int(r["sequence"]),
        applied_to_latest=True,
    )


def _reserve_sequence(dialect_insert: Any) -> Any:
    return (
        dialect_insert(t.event_streams)
        .values(stream_id=bindparam("stream_id"), last_sequence=1)
        .on_conflict_do_update(
            index_elements=["stream_id"],
            set_={"last_sequence": t.event_streams.c.last_sequence + 1},
        )
        .returning(t.event_streams.c.last_sequence)
    )


def _upsert_latest(dialect_insert: Any) -> Any:
    statement = dialect_insert(t.capability_latest)
    key = ("microgrid_id", "capability")
    replaced = [c.name for c in t.capability_latest.c if c.name not in key]
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in replaced},
    )


# The append path's statements are built once: constructing and cache-keying
# SQLAlchemy statements per call was a large share of each ingest's CPU time.
_RESERVE_SEQUENCE = {"postgresql": _reserve_sequence(postgresql.insert)}
_RESERVE_SEQUENCE["sqlite"] = _reserve_sequence(sqlite.insert)
_UPSERT_LATEST = {"postgresql": _upsert_latest(postgresql.insert)}
_UPSERT_LATEST["sqlite"] = _upsert_latest(sqlite.insert)
_FIND = select(t.events).where(
    t.events.c.stream_id == bindparam("stream_id"),
    t.events.c.idempotency_key == bindparam("idempotency_key"),
)
_APPEND = insert(t.events)
_LATEST_FOR = select(t.capability_latest).where(
    t.capability_latest.c.microgrid_id.in_(bindparam("ids", expanding=True))
)


class SqlCapabilityEvents(_Repository):
    async def reserve_sequence(self, microgrid_id: UUID) -> int:
        statement = _RESERVE_SEQUENCE[self._dialect]
        return int((await self._conn.execute(statement, {"stream_id": microgrid_id})).scalar_one())

    async def find(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        params = {"stream_id": microgrid_id, "idempotency_key": idempotency_key}
        row = (await self._conn.execute(_FIND, params)).first()
        return event_from_row(row._mapping) if row else None

    async def append(self, event: StatusEvent) -> None:
        await self._conn.execute(
            _APPEND,
            {
                "id": event.id,
                "stream_id": event.observation.microgrid_id,
                "sequence": event.sequence,
                "event_type": CAPABILITY_STATUS_RECORDED,
                "subject": event.observation.capability.value,
                "idempotency_key": event.observation.idempotency_key,
                "payload": event_payload(event),
                "recorded_at": event.received_at,
                "observed_at": event.observation.observed_at,
            },
        )

    async def history(
        self,
        microgrid_ids: Collection[UUID],
        capability: CapabilityType | None,
        first: int,
        before_sequence: int | None,
    ) -> dict[UUID, list[StatusEvent]]:
        found: dict[UUID, list[StatusEvent]] = {}
        for chunk in _chunks(microgrid_ids):
            conditions = [
                t.events.c.stream_id.in_(chunk),
                t.events.c.event_type == CAPABILITY_STATUS_RECORDED,
            ]
            if capability is not None:
                conditions.append(t.events.c.subject == capability.value)
            if before_sequence is not None:
                conditions.append(t.events.c.sequence < before_sequence)
            rank = (
                func.row_number()
                .over(partition_by=t.events.c.stream_id, order_by=t.events.c.sequence.desc())
                .label("rank")
            )
            ranked = select(t.events, rank).where(*conditions).subquery()
            statement = (
                select(ranked)
                .where(ranked.c.rank <= first)
                .order_by(ranked.c.stream_id, ranked.c.sequence.desc())
            )
            for row in await self._rows(statement):
                found.setdefault(row.stream_id, []).append(event_from_row(row._mapping))
        return found

    async def after(self, microgrid_id: UUID, sequence: int, limit: int) -> list[StatusEvent]:
        statement = (
            select(t.events)
            .where(
                t.events.c.stream_id == microgrid_id,
                t.events.c.event_type == CAPABILITY_STATUS_RECORDED,
                t.events.c.sequence > sequence,
            )
            .order_by(t.events.c.sequence)
            .limit(limit)
        )
        return [event_from_row(r._mapping) for r in await self._rows(statement)]

    async def last_sequence(self, microgrid_id: UUID) -> int:
        value = (
            await self._conn.execute(
                select(t.event_streams.c.last_sequence).where(
                    t.event_streams.c.stream_id == microgrid_id
                )
            )
        ).scalar()
        return int(value or 0)

    async def all_events(self) -> list[StatusEvent]:
        statement = (
            select(t.events)
            .where(t.events.c.event_type == CAPABILITY_STATUS_RECORDED)
            .order_by(t.events.c.stream_id, t.events.c.sequence)
        )
        return [event_from_row(r._mapping) for r in await self._rows(statement)]

    async def status_changes(
        self,
        microgrid_id: UUID,
        start: datetime,
        end: datetime,
        stale_after: Mapping[CapabilityType, int],
    ) -> list[StatusEvent]:
        params: dict[str, Any] = {
            "stream_id": microgrid_id,
            "event_type": CAPABILITY_STATUS_RECORDED,
            "start": start,
            "end": end,
            "start_us": _micros(start),
        }
        for i, capability in enumerate(CapabilityType):
            params[f"subject_{i}"] = capability.value
            params[f"slice_us_{i}"] = stale_after[capability] * 1_000_000
        rows = (await self._conn.execute(_STATUS_CHANGES[self._dialect], params)).all()
        return [event_from_row(r._mapping) for r in rows]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


_MICROS = {
    "postgresql": "CAST(extract(epoch FROM observed_at) * 1000000 AS BIGINT)",
    # SQLite holds the column as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
    "sqlite": "(CAST(strftime('%s', observed_at) AS INTEGER) * 1000000"
    " + CAST(substr(observed_at, 21, 6) AS INTEGER))",
}


def _status_changes(dialect: str) -> Any:
    """The statement behind ``status_changes`` (its docstring in domain/ports.py
    is the rule): per capability, the latest event before the range and the
    events in it, each with its slice (the one before the range: -1); an event
    is kept when it is first or last, or differs in status or slice from a
    neighbour."""
    columns = "id, stream_id, sequence, payload, recorded_at, subject, observed_at"
    value = (
        "COALESCE(payload->>'value' = 'true', false)"
        if dialect == "postgresql"
        else "COALESCE(json_extract(payload, '$.value') = 1, 0)"
    )
    of_stream = "stream_id = :stream_id AND event_type = :event_type"
    branches = []
    for i, _ in enumerate(CapabilityType):
        branches.append(
            f"SELECT * FROM (SELECT {columns}, {value} AS on_value, -1 AS slice FROM events"
            f" WHERE {of_stream} AND subject = :subject_{i} AND observed_at < :start"
            " ORDER BY observed_at DESC, sequence DESC LIMIT 1) AS before_range"
        )
        branches.append(
            f"SELECT {columns}, {value} AS on_value,"
            f" ({_MICROS[dialect]} - :start_us) / :slice_us_{i} AS slice FROM events"
            f" WHERE {of_stream} AND subject = :subject_{i}"
            " AND observed_at >= :start AND observed_at < :end"
        )
    chain = " UNION ALL ".join(branches)
    differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    neighbours = "OVER (PARTITION BY subject ORDER BY observed_at, sequence)"
    statement = text(
        f"""SELECT id, stream_id, sequence, payload, recorded_at FROM (
            SELECT id, stream_id, sequence, payload, recorded_at, subject, observed_at,
                on_value, slice,
                lag(sequence) {neighbours} AS previous_sequence,
                lead(sequence) {neighbours} AS next_sequence,
                lag(on_value) {neighbours} AS previous_value,
                lead(on_value) {neighbours} AS next_value,
                lag(slice) {neighbours} AS previous_slice,
                lead(slice) {neighbours} AS next_slice
            FROM ({chain}) AS chain
        ) AS marked
        WHERE previous_sequence IS NULL OR next_sequence IS NULL
            OR on_value {differs} previous_value OR on_value {differs} next_value
            OR slice {differs} previous_slice OR slice {differs} next_slice
        ORDER BY subject, observed_at, sequence"""
    )
    return statement.bindparams(
        bindparam("start", type_=UtcDateTime),
        bindparam("end", type_=UtcDateTime),
        bindparam("stream_id", type_=Uuid),
    ).columns(payload=JSON, recorded_at=UtcDateTime, id=Uuid, stream_id=Uuid)


_STATUS_CHANGES = {dialect: _status_changes(dialect) for dialect in ("postgresql", "sqlite")}


def _latest_row(event: StatusEvent) -> dict[str, Any]:
    o = event.observation
    return {
        "microgrid_id": o.microgrid_id,
        "capability": o.capability.value,
        "event_id": event.id,
        "sequence": event.sequence,
        "value": o.value,
        "observed_at": o.observed_at,
        "received_at": event.received_at,
        "provider_event_ref": o.provider_event_ref,
        "source_device_id": o.source_device_id,
    }


class SqlLatestStatuses(_Repository):
    async def for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, dict[CapabilityType, StatusEvent]]:
        found: dict[UUID, dict[CapabilityType, StatusEvent]] = {}
        for chunk in _chunks(microgrid_ids):
            for r in (await self._conn.execute(_LATEST_FOR, {"ids": chunk})).all():
                event = latest_event_from_row(r._mapping)
                found.setdefault(r.microgrid_id, {})[event.observation.capability] = event
        return found

    async def put(self, event: StatusEvent) -> None:
        await self._conn.execute(_UPSERT_LATEST[self._dialect], _latest_row(event))

    async def replace_all(self, latest: list[StatusEvent]) -> None:
        await self._conn.execute(delete(t.capability_latest))
        rows = [_latest_row(e) for e in latest]
        for start in range(0, len(rows), 1000):
            await self._conn.execute(insert(t.capability_latest), rows[start : start + 1000])
