"""Every Alembic revision runs up and down on both databases, and ``upgrade
head`` leaves exactly the tables, key indexes, unique rules and append-only
triggers named here (a revision that forgets one fails by name)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from domain.plausible.instants import readable_instant_text
from persistence import schema_upgrade
from persistence import tables as t
from persistence.database import create_engine
from persistence.tables import metadata

pytestmark = pytest.mark.database_only("Alembic migrations of a database")

TABLES = {
    "alembic_version",
    "api_tokens",
    "audit_log",
    "capability_latest",
    "capacity_reports",
    "circuits",
    "depots",
    "devices",
    "event_streams",
    "events",
    "feature_flag_settings",
    "gateways",
    "microgrid_nodes",
    "microgrids",
    "power_sources",
    "quarantined_rows",
    "readings",
    "sensor_actions",
    "sensor_packets",
}
POSTGRESQL_ONLY = {"reading_rollups"}
"""What PostgreSQL keeps to read the chart fast (SQLite reads the readings)."""

INDEXES = {
    # name: (table, columns, unique)
    "uq_microgrids_active_depot": ("microgrids", ["depot_id"], True),
    "ix_depots_name_id": ("depots", ["name", "id"], False),
    "ix_events_stream_subject_sequence": ("events", ["stream_id", "subject", "sequence"], False),
    "ix_events_stream_subject_observed": (
        "events",
        ["stream_id", "subject", "observed_at", "sequence", "value"],
        False,
    ),
    "ix_sensor_packets_device_received": (
        "sensor_packets",
        ["device_id", "received_at", "id"],
        False,
    ),
    "ix_audit_log_at_id": ("audit_log", ["at", "id"], False),
    "uq_feature_flag_settings_global_key": ("feature_flag_settings", ["key"], True),
    "uq_feature_flag_settings_depot_key": ("feature_flag_settings", ["depot_id", "key"], True),
    "ix_readings_depot_subject_observed": (
        "readings",
        ["depot_id", "subject_id", "observed_us"],
        False,
    ),
    "ix_capacity_reports_depot_circuit_observed": (
        "capacity_reports",
        ["depot_id", "circuit_id", "observed_us"],
        False,
    ),
}
"""The lookups and orderings the repositories page by, and the one-active-
microgrid-per-depot rule (partial: only rows with ``retired_at IS NULL``)."""

UNIQUE = {
    ("events", ("stream_id", "sequence")),
    ("events", ("stream_id", "idempotency_key")),
    ("sensor_actions", ("device_id", "type")),
    ("microgrid_nodes", ("microgrid_id", "circuit_id")),
    ("api_tokens", ("token_hash",)),
}

APPEND_ONLY = {"events", "audit_log"}
"""Tables whose UPDATE and DELETE a trigger refuses."""

_TRIGGER_TABLES = {
    "sqlite": "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'",
    "postgresql": "SELECT DISTINCT event_object_table FROM information_schema.triggers"
    " WHERE event_manipulation IN ('UPDATE', 'DELETE')",
}


def _schema(sync: Connection) -> dict[str, Any]:
    inspector = inspect(sync)
    tables = set(inspector.get_table_names())
    indexes = {
        index["name"]: (table, index)
        for table in tables
        for index in inspector.get_indexes(table)
        if index["name"]
    }
    unique = {
        (table, tuple(constraint["column_names"]))
        for table in tables
        for constraint in inspector.get_unique_constraints(table)
    } | {(table, tuple(i["column_names"])) for table, i in indexes.values() if i["unique"]}
    triggers = {row[0] for row in sync.execute(text(_TRIGGER_TABLES[sync.dialect.name]))}
    return {"tables": tables, "indexes": indexes, "unique": unique, "triggers": triggers}


async def test_upgrade_head_leaves_the_named_tables_indexes_and_rules(database_url):
    engine = create_engine(database_url)
    try:
        assert await schema_upgrade.current_revision(engine) == schema_upgrade.head_revision()
        async with engine.connect() as conn:
            found = await conn.run_sync(_schema)
    finally:
        await engine.dispose()

    postgresql = database_url.startswith("postgresql")
    assert found["tables"] == TABLES | (POSTGRESQL_ONLY if postgresql else set())
    assert set(metadata.tables) == TABLES - {"alembic_version"}, "tables.py and migrations agree"
    for name, (table, columns, unique) in INDEXES.items():
        assert name in found["indexes"], f"index {name} is missing"
        on, index = found["indexes"][name]
        assert (on, index["column_names"], bool(index["unique"])) == (table, columns, unique), name
    options = found["indexes"]["uq_microgrids_active_depot"][1]["dialect_options"]
    (where,) = (str(v) for k, v in options.items() if k.endswith("_where"))
    assert "retired_at IS NULL" in where, where
    for name, rule in [
        ("uq_feature_flag_settings_global_key", "depot_id IS NULL"),
        ("uq_feature_flag_settings_depot_key", "depot_id IS NOT NULL"),
    ]:
        options = found["indexes"][name][1]["dialect_options"]
        (where,) = (str(v) for k, v in options.items() if k.endswith("_where"))
        assert rule in where, (name, where)
    missing = UNIQUE - found["unique"]
    assert not missing, f"unique rules missing: {sorted(missing)}"
    assert found["triggers"] == APPEND_ONLY


def test_downgrade_to_base_and_upgrade_again(tmp_path, store, request):
    if store == "postgresql":
        from tests.support import services

        url, name = services.create_postgres_database()
        try:
            schema_upgrade.downgrade(url, "base")
            schema_upgrade.upgrade(url)
        finally:
            services.drop_postgres_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        schema_upgrade.upgrade(url)
        schema_upgrade.downgrade(url, "base")
        schema_upgrade.upgrade(url)


OBSERVED_AT_TEXTS = (
    "2026-01-01T00:00:00+00:00",
    "2026-01-01T05:00:00.123456+05:00",
    "2026-01-01T00:00:00",
    "2026-01-01 00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59+00:00",
    "infinity",
    " Infinity ",
    "-infinity",
    "2026-13-01T00:00:00+00:00",
    "not a time",
    "",
    12345,
    None,
)


def test_0008_backfills_observed_at_as_the_payload_reads(tmp_path, store):
    """Every event stored before 0008 gets the observedAt and value its payload
    reads as (readable_instant_text, bool), damaged payloads included."""
    if store == "postgresql":
        from tests.support import services

        url, name = services.create_postgres_database()
        schema_upgrade.downgrade(url, "0005")
    else:
        url, name = f"sqlite+aiosqlite:///{tmp_path / 'o.db'}", None
        schema_upgrade.upgrade(url, "0005")
    try:
        stream = uuid.uuid4()
        payloads: dict[uuid.UUID, dict[str, Any]] = {
            uuid.uuid4(): {"observedAt": v, "value": True} for v in OBSERVED_AT_TEXTS
        }
        for value in (False, None, 0, 2.5, "", "false", [], [0], {}, {"a": 1}):
            payloads[uuid.uuid4()] = {"value": value}
        asyncio.run(_insert_old_events(url, store, stream, payloads))
        schema_upgrade.upgrade(url)
        found = asyncio.run(_observed_column(url))
        assert found == {
            i: (readable_instant_text(p.get("observedAt")), bool(p["value"]))
            for i, p in payloads.items()
        }
    finally:
        if name is not None:
            services.drop_postgres_database(name)


async def _insert_old_events(url: str, store: str, stream: uuid.UUID, payloads: dict) -> None:
    def key(value: uuid.UUID) -> str:
        return str(value) if store == "postgresql" else value.hex

    ts = "::timestamptz" if store == "postgresql" else ""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for sequence, (event_id, payload) in enumerate(payloads.items(), 1):
                await conn.execute(
                    text(
                        "INSERT INTO events (id, stream_id, sequence, event_type, subject,"
                        " idempotency_key, payload, recorded_at) VALUES (:id, :s, :seq,"
                        f" 'CapabilityStatusRecorded', 'DER', :k, :p, '2026-01-01 00:01:00'{ts})"
                    ),
                    {
                        "id": key(event_id),
                        "s": key(stream),
                        "seq": sequence,
                        "k": f"DER:{sequence}",
                        "p": json.dumps(payload),
                    },
                )
    finally:
        await engine.dispose()


async def _observed_column(url: str) -> dict[uuid.UUID, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(t.events.c.id, t.events.c.observed_at, t.events.c.value)
            )
            return {r.id: (r.observed_at, r.value) for r in rows}
    finally:
        await engine.dispose()
