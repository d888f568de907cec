"""The relational schema. Alembic revisions under migrations/ create it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from persistence.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

depots = Table(
    "depots",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_depots_name_id", "name", "id"),
)

circuits = Table(
    "circuits",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("depot_id", Uuid, ForeignKey("depots.id"), nullable=False, index=True),
    Column("parent_id", Uuid, ForeignKey("circuits.id"), nullable=True, index=True),
    Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("safe_capacity_w", Float, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("available_capacity_w", Float, nullable=True),
    Column("fail_safe_capacity_w", Float, nullable=True),
    Column("heartbeat_status", String(32), nullable=True),
    Column("capacity_observed_at", UtcDateTime, nullable=True),
    Column("capacity_updated_at", UtcDateTime, nullable=True),
)

microgrids = Table(
    "microgrids",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("depot_id", Uuid, ForeignKey("depots.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("retired_at", UtcDateTime, nullable=True),
    Column("revision", Integer, nullable=False, server_default="1"),
)

ACTIVE_MICROGRID = microgrids.c.retired_at.is_(None)

Index(
    "uq_microgrids_active_depot",
    microgrids.c.depot_id,
    unique=True,
    sqlite_where=ACTIVE_MICROGRID,
    postgresql_where=ACTIVE_MICROGRID,
)

microgrid_nodes = Table(
    "microgrid_nodes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("microgrid_id", Uuid, ForeignKey("microgrids.id"), nullable=False),
    Column("node_type", String(32), nullable=False),
    # No foreign key: the source circuit may vanish out of band; that is drift.
    Column("circuit_id", Uuid, nullable=False),
    Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    UniqueConstraint("microgrid_id", "circuit_id"),
)

power_sources = Table(
    "power_sources",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("depot_id", Uuid, ForeignKey("depots.id"), nullable=False, index=True),
    Column("circuit_id", Uuid, ForeignKey("circuits.id"), nullable=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("power_state", String(16), nullable=True),
    Column("operational_mode", String(16), nullable=True),
    Column("soc_percent", Float, nullable=True),
    Column("load_w", Float, nullable=True),
    Column("updated_at", UtcDateTime, nullable=True),
)

gateways = Table(
    "gateways",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("depot_id", Uuid, ForeignKey("depots.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("site_model_name", String(200), nullable=True),
    Column("output_translation", JSON, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("depot_id", Uuid, ForeignKey("depots.id"), nullable=False, index=True),
    Column("gateway_id", Uuid, ForeignKey("gateways.id"), nullable=True),
    Column("circuit_id", Uuid, ForeignKey("circuits.id"), nullable=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("depot_ids", JSON, nullable=True),
    Column("label", String(200), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)

event_streams = Table(
    "event_streams",
    metadata,
    Column("stream_id", Uuid, primary_key=True),
    Column("last_sequence", BigInteger, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("stream_id", Uuid, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("event_type", String(64), nullable=False),
    # what the event is about within its stream (for capability statuses: the capability)
    Column("subject", String(64), nullable=True),
    Column("idempotency_key", String(300), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    # a capability status's observedAt and value, as the payload reads: the chart's
    # runs are found from the index below alone (an index-only scan on PostgreSQL)
    Column("observed_at", UtcDateTime, nullable=False),
    Column("value", Boolean, nullable=False),
    UniqueConstraint("stream_id", "sequence"),
    UniqueConstraint("stream_id", "idempotency_key"),
    Index("ix_events_stream_subject_sequence", "stream_id", "subject", "sequence"),
)

CAPABILITY_STATUS_EVENTS = events.c.event_type == "CapabilityStatusRecorded"

Index(
    "ix_events_stream_subject_observed",
    events.c.stream_id,
    events.c.subject,
    events.c.observed_at,
    events.c.sequence,
    events.c.value,
    sqlite_where=CAPABILITY_STATUS_EVENTS,
    postgresql_where=CAPABILITY_STATUS_EVENTS,
)

capability_latest = Table(
    "capability_latest",
    metadata,
    Column("microgrid_id", Uuid, primary_key=True),
    Column("capability", String(32), primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("value", Boolean, nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("provider_event_ref", String(200), nullable=False),
    Column("source_device_id", Uuid, nullable=True),
)

sensor_actions = Table(
    "sensor_actions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("device_id", Uuid, ForeignKey("devices.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # set only for UPDATE_MICROGRID_STATE: the action is the controller binding
    Column("microgrid_id", Uuid, ForeignKey("microgrids.id"), nullable=True, index=True),
    Column("capabilities", JSON, nullable=True),
    Column("stale_after_seconds", Integer, nullable=True),
    Column("last_reported_at", UtcDateTime, nullable=True),
    UniqueConstraint("device_id", "type"),
)

# PostgreSQL: partitioned by RANGE (received_at), primary key (id, received_at);
# see persistence/partitions.py and migration 0011.
sensor_packets = Table(
    "sensor_packets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("device_id", Uuid, ForeignKey("devices.id"), nullable=False),
    Column("observed_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("packet", JSON, nullable=False),
    Column("outcomes", JSON, nullable=False),
    Index("ix_sensor_packets_device_received", "device_id", "received_at", "id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("token_id", Uuid, nullable=True),
    Column("action", String(64), nullable=False),
    Column("subject_id", Uuid, nullable=True),
    Column("depot_id", Uuid, nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_at_id", "at", "id"),
)

quarantined_rows = Table(
    "quarantined_rows",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("table_name", String(64), nullable=False),
    Column("row_id", String(200), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("original", Text, nullable=True),
    Column("quarantined_at", UtcDateTime, nullable=False),
)

feature_flag_settings = Table(
    "feature_flag_settings",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("key", String(100), nullable=False),
    Column("depot_id", Uuid, ForeignKey("depots.id"), nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", Uuid, nullable=True),
)
"""Admins' flag settings; ``depot_id`` NULL is the global setting. One per (key,
depot) and one global per key: two partial unique indexes, as NULLs never collide
in a plain unique constraint."""

GLOBAL_FLAG_SETTING = feature_flag_settings.c.depot_id.is_(None)
DEPOT_FLAG_SETTING = feature_flag_settings.c.depot_id.is_not(None)

Index(
    "uq_feature_flag_settings_global_key",
    feature_flag_settings.c.key,
    unique=True,
    sqlite_where=GLOBAL_FLAG_SETTING,
    postgresql_where=GLOBAL_FLAG_SETTING,
)
Index(
    "uq_feature_flag_settings_depot_key",
    feature_flag_settings.c.depot_id,
    feature_flag_settings.c.key,
    unique=True,
    sqlite_where=DEPOT_FLAG_SETTING,
    postgresql_where=DEPOT_FLAG_SETTING,
)

# Load-chart readings and capacity reports (DESIGN §7): append-only; on
# PostgreSQL partitioned by RANGE (observed_us), see persistence/partitions.py.
# observed_us is the observation instant in microseconds since the Unix epoch:
# bucket arithmetic on it is exact integer arithmetic on both stores. seq is
# the write order (ties on observed_us: the row written last is the newer);
# on SQLite it is the rowid. One row carries the readings of one subject
# (power source or circuit) at one instant, one nullable column per kind
# (bench/README.md, "Issue 15: readings storage": the wide row measured
# faster and smaller than one row per reading).
readings = Table(
    "readings",
    metadata,
    Column("depot_id", Uuid, nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("observed_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False, server_default=FetchedValue()),
    Column("load_w", Float, nullable=True),
    Column("soc_percent", Float, nullable=True),
    Column("available_w", Float, nullable=True),
    Column("fail_safe_w", Float, nullable=True),
    Column("effective_w", Float, nullable=True),
    Index("ix_readings_depot_subject_observed", "depot_id", "subject_id", "observed_us"),
)

capacity_reports = Table(
    "capacity_reports",
    metadata,
    Column("depot_id", Uuid, nullable=False),
    Column("circuit_id", Uuid, nullable=False),
    Column("observed_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False, server_default=FetchedValue()),
    Column("available_w", Float, nullable=True),
    Column("fail_safe_w", Float, nullable=True),
    Column("heartbeat", String(256), nullable=True),
    Index("ix_capacity_reports_depot_circuit_observed", "depot_id", "circuit_id", "observed_us"),
)
