"""Every Alembic revision runs up and down on both databases, and ``upgrade
head`` leaves exactly the tables, key indexes, unique rules and append-only
triggers named here (a revision that forgets one fails by name)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from persistence import schema_upgrade
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

INDEXES = {
    # name: (table, columns, unique)
    "uq_microgrids_active_depot": ("microgrids", ["depot_id"], True),
    "ix_depots_name_id": ("depots", ["name", "id"], False),
    "ix_events_stream_subject_sequence": ("events", ["stream_id", "subject", "sequence"], False),
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
    "postgresql": "SELECT DISTINCT event_object_table FROM information_schema.triggers",
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

    assert found["tables"] == TABLES
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
