"""PostgreSQL: the statements of the capability-status ingest path (and the
bindings a card read needs, and a packet's load-chart readings) sent straight
to asyncpg, inside the unit of work's transaction.

Through SQLAlchemy Core these statements cost a large share of an ingest's CPU
time (bench/README.md, "Ingest"; bench/profile_ingest.py). These classes
override only the hot methods; everything else, and the whole SQLite store,
stays on SQLAlchemy. The repository contract tests run on every store, so both
paths answer the same."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from domain.access import EVERYWHERE, Scope
from domain.capability import CapabilityType, StatusEvent
from domain.model import Circuit, Device, Gateway, PowerSource, SensorAction, SensorActionType
from domain.packet_records import PacketRecord
from domain.ports import PacketEquipment
from domain.readings import CapacityReport, Reading
from persistence.asyncpg_driver import AsyncpgDriver
from persistence.event_store import (
    CAPABILITY_STATUS_RECORDED,
    SqlCapabilityEvents,
    SqlLatestStatuses,
    event_from_row,
    event_payload,
    latest_event_from_row,
)
from persistence.partitions import epoch_us
from persistence.reading_store import READING_COLUMNS, SqlReadings, reading_rows
from persistence.repositories import (
    SqlCircuits,
    SqlEquipment,
    SqlMicrogrids,
    capacity_values,
    power_source_from_values,
    power_source_state_values,
)
from persistence.sensor_store import (
    SqlPacketFacts,
    SqlPacketRecords,
    SqlSensorActions,
    action_from_row,
    packet_row,
)


class _OnDriver:
    """A repository whose hot methods use the unit of work's :class:`AsyncpgDriver`."""

    def __init__(self, connection: AsyncConnection, driver: AsyncpgDriver) -> None:
        super().__init__(connection)  # type: ignore[call-arg]
        self._driver = driver


BUMP_REVISIONS = (
    "UPDATE microgrids SET revision = revision + 1"
    " WHERE id = ANY($1::uuid[]) OR (depot_id = ANY($2::uuid[]) AND retired_at IS NULL)"
    " RETURNING id, depot_id, revision"
)


class AsyncpgMicrogrids(_OnDriver, SqlMicrogrids):
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

    async def bump_revisions(
        self, microgrid_ids: Collection[UUID], depot_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID, int]]:
        rows = await self._driver.run("fetch", BUMP_REVISIONS, list(microgrid_ids), list(depot_ids))
        return {r["id"]: (r["depot_id"], int(r["revision"])) for r in rows}


LOCK_STREAMS = (
    "INSERT INTO event_streams (stream_id, last_sequence)"
    " SELECT id, 0 FROM unnest($1::uuid[]) AS id ORDER BY id"
    " ON CONFLICT (stream_id) DO UPDATE SET last_sequence = event_streams.last_sequence"
    " RETURNING stream_id, last_sequence"
)
FIND_MANY = (
    "SELECT e.id, e.stream_id, e.sequence, e.payload, e.recorded_at, e.idempotency_key"
    " FROM events e JOIN unnest($1::uuid[], $2::text[]) AS k(stream_id, idempotency_key)"
    " ON e.stream_id = k.stream_id AND e.idempotency_key = k.idempotency_key"
)
APPEND_ALL = (
    "WITH appended AS (INSERT INTO events (id, stream_id, sequence, event_type, subject,"
    " idempotency_key, payload, recorded_at, observed_at, value)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::text[],"
    " $6::text[], $7::json[], $8::timestamptz[], $9::timestamptz[], $10::bool[]))"
    " UPDATE event_streams s SET last_sequence = l.last"
    " FROM unnest($11::uuid[], $12::int8[]) AS l(stream_id, last)"
    " WHERE s.stream_id = l.stream_id"
)


class AsyncpgCapabilityEvents(_OnDriver, SqlCapabilityEvents):
    async def lock_streams(self, microgrid_ids: Collection[UUID]) -> dict[UUID, int]:
        if not microgrid_ids:
            return {}
        rows = await self._driver.run("fetch", LOCK_STREAMS, sorted(microgrid_ids))
        return {r["stream_id"]: int(r["last_sequence"]) for r in rows}

    async def find_many(
        self, keys: Collection[tuple[UUID, str]]
    ) -> dict[tuple[UUID, str], StatusEvent]:
        if not keys:
            return {}
        pairs = list(keys)
        rows = await self._driver.run(
            "fetch", FIND_MANY, [m for m, _ in pairs], [k for _, k in pairs]
        )
        return {(r["stream_id"], r["idempotency_key"]): event_from_row(r) for r in rows}

    async def append_all(self, events: Sequence[StatusEvent]) -> None:
        if not events:
            return
        last = {e.observation.microgrid_id: e.sequence for e in events}
        await self._driver.run(
            "execute",
            APPEND_ALL,
            [e.id for e in events],
            [e.observation.microgrid_id for e in events],
            [e.sequence for e in events],
            [CAPABILITY_STATUS_RECORDED] * len(events),
            [e.observation.capability.value for e in events],
            [e.observation.idempotency_key for e in events],
            [json.dumps(event_payload(e)) for e in events],
            [e.received_at for e in events],
            [e.observation.observed_at for e in events],
            [e.observation.value for e in events],
            list(last),
            list(last.values()),
        )

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
        return None if row is None else event_from_row(row)

    async def append(self, event: StatusEvent) -> None:
        o = event.observation
        await self._driver.run(
            "execute",
            "INSERT INTO events (id, stream_id, sequence, event_type, subject, idempotency_key,"
            " payload, recorded_at, observed_at, value)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10)",
            event.id,
            o.microgrid_id,
            event.sequence,
            CAPABILITY_STATUS_RECORDED,
            o.capability.value,
            o.idempotency_key,
            json.dumps(event_payload(event)),
            event.received_at,
            o.observed_at,
            o.value,
        )


class AsyncpgLatestStatuses(_OnDriver, SqlLatestStatuses):
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
            event = latest_event_from_row(r)
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

    async def put_all(self, events: Sequence[StatusEvent]) -> None:
        if not events:
            return
        await self._driver.run(
            "execute",
            PUT_LATEST_ALL,
            [e.observation.microgrid_id for e in events],
            [e.observation.capability.value for e in events],
            [e.id for e in events],
            [e.sequence for e in events],
            [e.observation.value for e in events],
            [e.observation.observed_at for e in events],
            [e.received_at for e in events],
            [e.observation.provider_event_ref for e in events],
            [e.observation.source_device_id for e in events],
        )


PUT_LATEST_ALL = (
    "INSERT INTO capability_latest (microgrid_id, capability, event_id, sequence, value,"
    " observed_at, received_at, provider_event_ref, source_device_id)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::int8[], $5::bool[],"
    " $6::timestamptz[], $7::timestamptz[], $8::text[], $9::uuid[])"
    " ON CONFLICT (microgrid_id, capability) DO UPDATE SET"
    " event_id = EXCLUDED.event_id, sequence = EXCLUDED.sequence,"
    " value = EXCLUDED.value, observed_at = EXCLUDED.observed_at,"
    " received_at = EXCLUDED.received_at,"
    " provider_event_ref = EXCLUDED.provider_event_ref,"
    " source_device_id = EXCLUDED.source_device_id"
)


class AsyncpgSensorActions(_OnDriver, SqlSensorActions):
    async def record_last_reported(self, actions: Sequence[SensorAction]) -> None:
        if actions:
            await self._driver.run(
                "execute",
                RECORD_LAST_REPORTED,
                [a.id for a in actions],
                [a.last_reported_at for a in actions],
            )

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
            grouped.setdefault(r["microgrid_id"], []).append(action_from_row(r))
        return grouped


INSERT_READINGS = (
    f"INSERT INTO readings (depot_id, subject_id, observed_us, {', '.join(READING_COLUMNS)})"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], "
    + ", ".join(f"${i}::float8[]" for i in range(4, 4 + len(READING_COLUMNS)))
    + ")"
)
INSERT_REPORTS = (
    "INSERT INTO capacity_reports (depot_id, circuit_id, observed_us, available_w, fail_safe_w,"
    " heartbeat) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::float8[],"
    " $5::float8[], $6::varchar[])"
)


class AsyncpgReadings(_OnDriver, SqlReadings):
    """A packet's readings: one statement per table whatever their number (the
    rows as arrays, in order, so ``seq`` keeps the write order). Through
    SQLAlchemy the two inserts cost ~4x the CPU (bench/README.md, "Issue 15")."""

    async def add(self, readings: Collection[Reading], reports: Collection[CapacityReport]) -> None:
        rows = reading_rows(readings)
        if rows:
            await self._driver.run(
                "execute",
                INSERT_READINGS,
                *(
                    [row[name] for row in rows]
                    for name in ("depot_id", "subject_id", "observed_us")
                ),
                *([row[c] for row in rows] for c in READING_COLUMNS),
            )
        if reports:
            await self._driver.run(
                "execute",
                INSERT_REPORTS,
                [r.depot_id for r in reports],
                [r.circuit_id for r in reports],
                [epoch_us(r.observed_at) for r in reports],
                [r.available_w for r in reports],
                [r.fail_safe_w for r in reports],
                [r.heartbeat for r in reports],
            )


INSERT_PACKETS = (
    "INSERT INTO sensor_packets (id, device_id, observed_at, received_at, packet, outcomes)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[],"
    " $5::json[], $6::json[])"
)


class AsyncpgPacketRecords(_OnDriver, SqlPacketRecords):
    """Packets kept in one statement however many (the rows as arrays)."""

    async def add(self, record: PacketRecord) -> None:
        await self.add_all([record])

    async def add_all(self, records: Sequence[PacketRecord]) -> None:
        if not records:
            return
        rows = [packet_row(r) for r in records]
        await self._driver.run(
            "execute",
            INSERT_PACKETS,
            *([row[name] for row in rows] for name in ("id", "device_id", "observed_at")),
            [row["received_at"] for row in rows],
            [json.dumps(row["packet"]) for row in rows],
            [json.dumps(row["outcomes"]) for row in rows],
        )


PACKET_FACTS = (
    "WITH d AS (SELECT * FROM devices WHERE id = ANY($1::uuid[])"
    " AND ($2::uuid[] IS NULL OR depot_id = ANY($2::uuid[])))"
    " SELECT (SELECT array_agg(x) FROM devices x WHERE x.id IN (SELECT id FROM d)) AS devices,"
    " (SELECT array_agg(x) FROM sensor_actions x"
    " WHERE x.device_id IN (SELECT id FROM d)) AS actions,"
    " (SELECT array_agg(x) FROM power_sources x"
    " WHERE x.depot_id IN (SELECT depot_id FROM d)) AS power_sources,"
    " (SELECT array_agg(x) FROM gateways x WHERE x.id IN (SELECT gateway_id FROM d)) AS gateways,"
    " (SELECT array_agg(x) FROM circuits x WHERE x.id IN (SELECT circuit_id FROM d)) AS circuits"
)


class AsyncpgPacketFacts(_OnDriver, SqlPacketFacts):
    """A packet's (or a batch's) lookups in one statement: each table's rows as
    an array of its row type, which asyncpg decodes to records."""

    async def load(self, device_ids: Collection[UUID], scope: Scope) -> PacketEquipment:
        depots = None if scope.depot_ids is None else sorted(scope.depot_ids)
        row = await self._driver.run("fetchrow", PACKET_FACTS, list(device_ids), depots)
        devices = {r["id"]: Device(**dict(r.items())) for r in row["devices"] or ()}
        actions: dict[UUID, list[SensorAction]] = {d: [] for d in devices}
        for r in row["actions"] or ():
            actions[r["device_id"]].append(action_from_row(_decoded(r, "capabilities")))
        sources: dict[UUID, list[PowerSource]] = {d.depot_id: [] for d in devices.values()}
        for r in row["power_sources"] or ():
            sources[r["depot_id"]].append(power_source_from_values(dict(r.items())))
        gateways = {
            r["id"]: Gateway(**_decoded(r, "output_translation")) for r in row["gateways"] or ()
        }
        circuits = {r["id"]: Circuit(**dict(r.items())) for r in row["circuits"] or ()}
        return PacketEquipment(devices, actions, sources, gateways, circuits)


def _decoded(record: Any, json_column: str) -> dict[str, Any]:
    """A record's values, its JSON column parsed (inside a row type, asyncpg
    hands JSON over as text)."""
    values = dict(record.items())
    if isinstance(values[json_column], str):
        values[json_column] = json.loads(values[json_column])
    return values


RECORD_POWER_SOURCE_STATES = (
    "UPDATE power_sources p SET power_state = v.power_state,"
    " operational_mode = v.operational_mode, soc_percent = v.soc_percent, load_w = v.load_w,"
    " updated_at = v.updated_at FROM unnest($1::uuid[], $2::text[], $3::text[], $4::float8[],"
    " $5::float8[], $6::timestamptz[])"
    " AS v(id, power_state, operational_mode, soc_percent, load_w, updated_at) WHERE p.id = v.id"
)
RECORD_CAPACITY_REPORTS = (
    "UPDATE circuits c SET available_capacity_w = v.available, fail_safe_capacity_w = v.fail_safe,"
    " heartbeat_status = v.heartbeat, capacity_observed_at = v.observed,"
    " capacity_updated_at = v.updated FROM unnest($1::uuid[], $2::float8[], $3::float8[],"
    " $4::text[], $5::timestamptz[], $6::timestamptz[])"
    " AS v(id, available, fail_safe, heartbeat, observed, updated) WHERE c.id = v.id"
)
RECORD_LAST_REPORTED = (
    "UPDATE sensor_actions a SET last_reported_at = v.at"
    " FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at) WHERE a.id = v.id"
)


class AsyncpgEquipment(_OnDriver, SqlEquipment):
    async def record_power_source_states(self, power_sources: Sequence[PowerSource]) -> None:
        if not power_sources:
            return
        rows = [power_source_state_values(p) for p in power_sources]
        await self._driver.run(
            "execute",
            RECORD_POWER_SOURCE_STATES,
            [p.id for p in power_sources],
            *([row[f] for row in rows] for f in rows[0]),
        )


class AsyncpgCircuits(_OnDriver, SqlCircuits):
    async def record_capacity_reports(self, circuits: Sequence[Circuit]) -> None:
        if not circuits:
            return
        rows = [capacity_values(c) for c in circuits]
        await self._driver.run(
            "execute",
            RECORD_CAPACITY_REPORTS,
            [c.id for c in circuits],
            *([row[f] for row in rows] for f in rows[0]),
        )
