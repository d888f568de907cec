"""The append-only event store and the latest-status projection.

Events are generic rows (stream, gap-free sequence, type, subject, idempotency
key, JSON payload); this module maps capability-status events in and out."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    Uuid,
    bindparam,
    delete,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from domain.capability import CapabilityType, Observation, StatusEvent
from domain.chart_intervals import StatusRun
from domain.plausible.instants import readable_instant, readable_instant_text
from persistence import tables as t
from persistence.repositories import _chunks, _Repository
from persistence.types import UtcDateTime

CAPABILITY_STATUS_RECORDED = "CapabilityStatusRecorded"
HISTORY_CHUNK = 100
"""Streams per history statement (one UNION ALL member each)."""


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


def _event_row(event: StatusEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "stream_id": event.observation.microgrid_id,
        "sequence": event.sequence,
        "event_type": CAPABILITY_STATUS_RECORDED,
        "subject": event.observation.capability.value,
        "idempotency_key": event.observation.idempotency_key,
        "payload": event_payload(event),
        "recorded_at": event.received_at,
        "observed_at": event.observation.observed_at,
        "value": event.observation.value,
    }


def _lock_streams(dialect_insert: Any) -> Any:
    """A new stream starts at 0; an existing one is left as it is, but locked."""
    statement = dialect_insert(t.event_streams).values(
        stream_id=bindparam("stream_id"), last_sequence=0
    )
    return statement.on_conflict_do_update(
        index_elements=["stream_id"],
        set_={"last_sequence": t.event_streams.c.last_sequence},
    ).returning(t.event_streams.c.stream_id, t.event_streams.c.last_sequence)


LOCK_STREAMS = {"postgresql": _lock_streams(postgresql.insert)}
LOCK_STREAMS["sqlite"] = _lock_streams(sqlite.insert)


class SqlCapabilityEvents(_Repository):
    async def reserve_sequence(self, microgrid_id: UUID) -> int:
        statement = _RESERVE_SEQUENCE[self._dialect]
        return int((await self._conn.execute(statement, {"stream_id": microgrid_id})).scalar_one())

    async def find(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        params = {"stream_id": microgrid_id, "idempotency_key": idempotency_key}
        row = (await self._conn.execute(_FIND, params)).first()
        return event_from_row(row._mapping) if row else None

    async def append(self, event: StatusEvent) -> None:
        await self._conn.execute(_APPEND, _event_row(event))

    async def lock_streams(self, microgrid_ids: Collection[UUID]) -> dict[UUID, int]:
        ids = sorted(microgrid_ids)
        if not ids:
            return {}
        statement = LOCK_STREAMS[self._dialect]
        rows = (await self._conn.execute(statement, [{"stream_id": i} for i in ids])).all()
        return {r.stream_id: int(r.last_sequence) for r in rows}

    async def find_many(
        self, keys: Collection[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], StatusEvent]:
        wanted = set(keys)
        if not wanted:
            return {}
        statement = select(t.events).where(
            t.events.c.stream_id.in_({m for m, _ in wanted}),
            t.events.c.idempotency_key.in_({k for _, k in wanted}),
        )
        found: dict[tuple[UUID, str], StatusEvent] = {}
        for r in await self._rows(statement):
            if (r.stream_id, r.idempotency_key) in wanted:
                found[(r.stream_id, r.idempotency_key)] = event_from_row(r._mapping)
        return found

    async def append_all(self, events: Sequence[StatusEvent]) -> None:
        if not events:
            return
        await self._conn.execute(_APPEND, [_event_row(e) for e in events])
        last = {e.observation.microgrid_id: e.sequence for e in events}
        await self._conn.execute(
            update(t.event_streams)
            .where(t.event_streams.c.stream_id == bindparam("stream"))
            .values(last_sequence=bindparam("last")),
            [{"stream": m, "last": s} for m, s in last.items()],
        )

    async def history(
        self,
        microgrid_ids: Collection[UUID],
        capability: CapabilityType | None,
        first: int,
        before_sequence: int | None,
    ) -> dict[UUID, list[StatusEvent]]:
        """Each stream's newest ``first`` events: one index scan per stream,
        ``(stream_id, sequence)`` read backwards and stopped at ``first`` (a
        window over the stream would rank every event it has ever recorded)."""
        found: dict[UUID, list[StatusEvent]] = {}
        for chunk in _chunks(microgrid_ids, HISTORY_CHUNK):
            pages = []
            for stream_id in chunk:
                conditions = [
                    t.events.c.stream_id == stream_id,
                    t.events.c.event_type == CAPABILITY_STATUS_RECORDED,
                ]
                if capability is not None:
                    conditions.append(t.events.c.subject == capability.value)
                if before_sequence is not None:
                    conditions.append(t.events.c.sequence < before_sequence)
                page = (
                    select(t.events)
                    .where(*conditions)
                    .order_by(t.events.c.sequence.desc())
                    .limit(first)
                    .subquery()
                )
                pages.append(select(page))
            statement = pages[0] if len(pages) == 1 else union_all(*pages)
            for row in await self._rows(statement):
                found.setdefault(row.stream_id, []).append(event_from_row(row._mapping))
        for events in found.values():
            events.sort(key=lambda e: e.sequence, reverse=True)
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
    ) -> list[StatusRun]:
        params: dict[str, Any] = {
            "stream_id": microgrid_id,
            "event_type": CAPABILITY_STATUS_RECORDED,
            "start": start,
            "end": end,
        }
        for i, capability in enumerate(CapabilityType):
            params[f"subject_{i}"] = capability.value
            params[f"stale_{i}"] = stale_after[capability]
        rows = (await self._conn.execute(_STATUS_CHANGES[self._dialect], params)).all()
        return runs_from_rows([r._mapping for r in rows])


def runs_from_rows(rows: Sequence[Mapping[Any, Any]]) -> list[StatusRun]:
    """Rows of run ends in order, each flagged ``starts``/``ends``, as runs."""
    runs: list[StatusRun] = []
    first: StatusEvent | None = None
    for row in rows:
        event = event_from_row(row)
        if row["starts"] or first is None:
            first = event
        if row["ends"]:
            runs.append(StatusRun(first, event))
    return runs


_STALE = {
    "postgresql": ("observed_at", "{observed} + :stale_{i} * INTERVAL '1 second'"),
    # SQLite holds the column as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole microseconds.
    # The seconds from the text without its fraction: strftime rounds to the
    # millisecond first, so .9995 s and later would count as the next second.
    "sqlite": (
        "CAST(strftime('%s', substr(observed_at, 1, 19)) AS INTEGER) * 1000000"
        " + CAST(substr(observed_at, 21, 6) AS INTEGER)",
        "{observed} + :stale_{i} * 1000000",
    ),
}


_WHOLE = {
    # The runs' first and last events' sequences as two arrays (one row), then
    # one index scan of (stream_id, sequence) for them: with a join, the
    # planner, which cannot know how few rows the flags keep, costs the
    # lookups so high that JIT compilation starts and takes longer than the
    # whole read.
    "postgresql": """
        SELECT e.id, e.stream_id, e.sequence, e.payload, e.recorded_at,
            e.sequence = ANY(kept.starts) AS starts, e.sequence = ANY(kept.ends) AS ends
        FROM (
            SELECT array_agg(sequence) AS starts,
                array_remove(array_agg(previous_end), NULL) || ARRAY({lasts}) AS ends
            FROM ({firsts}) AS firsts
        ) AS kept
        JOIN events AS e
            ON e.stream_id = :stream_id AND e.sequence = ANY(kept.starts || kept.ends)
        ORDER BY e.subject, e.observed_at, e.sequence""",
    "sqlite": """
        WITH firsts AS ({firsts})
        SELECT e.id, e.stream_id, e.sequence, e.payload, e.recorded_at,
            max(kept.starts) AS starts, max(kept.ends) AS ends
        FROM (
            SELECT sequence, 1 AS starts, 0 AS ends FROM firsts
            UNION ALL SELECT previous_end, 0, 1 FROM firsts WHERE previous_end IS NOT NULL
            UNION ALL SELECT sequence, 0, 1 FROM ({lasts})
        ) AS kept
        JOIN events AS e ON e.stream_id = :stream_id AND e.sequence = kept.sequence
        GROUP BY e.sequence
        ORDER BY e.subject, e.observed_at, e.sequence""",
}


def _status_changes(dialect: str) -> Any:
    """The statement behind ``status_changes``. Per capability, the chain:
    from the latest event before ``start`` (one index lookup) to ``end``, the
    events in (observed_at, sequence) order, read from the index alone. The
    runs' first events: the chain's first, and each whose value differs from
    the previous one's or that was observed once the previous one went stale
    (two window functions over the chain); their last events: the one before
    each first (one index lookup each) and the chain's last. Then those
    events are read whole."""
    instant, stale_at = _STALE[dialect]
    mine = "stream_id = :stream_id AND subject = :subject_{i} AND event_type = :event_type"
    latest = "SELECT {column} FROM events AS latest WHERE {mine} AND {before}"
    latest += " ORDER BY observed_at DESC, sequence DESC LIMIT 1"
    firsts, lasts = [], []
    for i, _ in enumerate(CapabilityType):
        of_capability = mine.format(i=i)
        bound = [
            latest.format(column=column, mine=of_capability, before="observed_at < :start")
            for column in ("observed_at", "sequence")
        ]
        previous = latest.format(
            column="sequence",
            mine=of_capability,
            before="(observed_at, sequence) < (chain.observed_at, chain.sequence)",
        )
        stale = stale_at.format(i=i, observed="previous_instant")
        firsts.append(
            f"""SELECT sequence, CASE WHEN previous_instant IS NULL THEN NULL
                    ELSE ({previous}) END
                    AS previous_end
            FROM (
                SELECT sequence, observed_at, value, instant,
                    lag(value) OVER w AS previous_value,
                    lag(instant) OVER w AS previous_instant
                FROM (
                    SELECT sequence, value, observed_at, {instant} AS instant FROM events
                    WHERE {of_capability} AND observed_at < :end
                        AND (observed_at, sequence) >= (
                            COALESCE(({bound[0]}), :start), COALESCE(({bound[1]}), -1))
                ) AS chain
                WINDOW w AS (ORDER BY observed_at, sequence)
            ) AS chain
            WHERE previous_instant IS NULL OR value <> previous_value OR instant >= {stale}"""
        )
        last = latest.format(column="sequence", mine=of_capability, before="observed_at < :end")
        lasts.append(f"SELECT * FROM ({last}) AS last_{i}")
    statement = text(
        _WHOLE[dialect].format(firsts=" UNION ALL ".join(firsts), lasts=" UNION ALL ".join(lasts))
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

    async def put_all(self, events: Sequence[StatusEvent]) -> None:
        if events:
            await self._conn.execute(
                _UPSERT_LATEST[self._dialect], [_latest_row(e) for e in events]
            )

    async def replace_all(self, latest: list[StatusEvent]) -> None:
        await self._conn.execute(delete(t.capability_latest))
        rows = [_latest_row(e) for e in latest]
        for start in range(0, len(rows), 1000):
            await self._conn.execute(insert(t.capability_latest), rows[start : start + 1000])
