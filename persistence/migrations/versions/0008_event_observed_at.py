"""Events get ``observed_at`` and ``value`` columns (a capability status's
observedAt and value, from the payload) and an index of capability-status
events on (stream, subject, observed_at, sequence, value), so the load chart
finds a capability's runs over a range from the index alone.

The backfill reads the payload as the event store does: observedAt as
``readable_instant_text`` (ISO text to UTC, naive text as UTC, "infinity" as
the read ceiling, anything unreadable as the read floor, clamped to [READ_FLOOR,
READ_CEILING]) and value as Python's ``bool`` of the JSON value. The events'
append-only triggers stay in force except around the backfill's own UPDATE,
in this migration's transaction.

Revision ID: 0008
Revises: 0005
"""

from collections.abc import Sequence
from datetime import UTC, datetime
import json
from typing import Any
import uuid

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_events_stream_subject_observed"
INDEX_COLUMNS = ["stream_id", "subject", "observed_at", "sequence", "value"]
CAPABILITY_STATUS_EVENTS = sa.text("event_type = 'CapabilityStatusRecorded'")
APPEND_ONLY = "events are append-only: UPDATE and DELETE are refused"
BATCH = 1000
# domain/plausible/instants.py as of this revision (a migration does not follow later code)
READ_FLOOR = datetime(1, 1, 2, tzinfo=UTC)
READ_CEILING = datetime(9999, 1, 1, tzinfo=UTC)

# On PostgreSQL the cast runs in SQL; this function maps what the cast refuses
# (or text Python's fromisoformat would not read) to the floor, as Python does.
_PG_READ = """
CREATE FUNCTION pg_temp.readable_observed_at(t text) RETURNS timestamptz
LANGUAGE plpgsql AS $$
BEGIN
    IF t IS NULL THEN RETURN :floor; END IF;
    IF lower(btrim(t)) IN ('infinity', '+infinity') THEN RETURN :ceiling; END IF;
    IF t !~ '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}(:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?)?)?(Z|[+-]\\d{2}(:?\\d{2})?)?$'
    THEN RETURN :floor; END IF;
    RETURN LEAST(GREATEST(t::timestamptz, :floor), :ceiling);
EXCEPTION WHEN others THEN
    RETURN :floor;
END $$"""

# Python's bool() of the payload's JSON value
_PG_VALUE = """CASE json_typeof(payload->'value')
    WHEN 'boolean' THEN (payload->>'value')::boolean
    WHEN 'number' THEN (payload->>'value')::numeric <> 0
    WHEN 'string' THEN payload->>'value' <> ''
    WHEN 'array' THEN json_array_length(payload->'value') > 0
    WHEN 'object' THEN EXISTS (SELECT FROM json_object_keys(payload->'value'))
    ELSE false END"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade() -> None:
    op.drop_index(INDEX, table_name="events")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("events", "value")
        op.drop_column("events", "observed_at")
        return
    _drop_sqlite_triggers()
    with op.batch_alter_table("events") as batch:
        batch.drop_column("value")
        batch.drop_column("observed_at")
    _create_sqlite_triggers()


def _upgrade_postgresql() -> None:
    op.add_column("events", sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("events", sa.Column("value", sa.Boolean(), nullable=True))
    floor, ceiling = (f"'{v.isoformat()}'::timestamptz" for v in (READ_FLOOR, READ_CEILING))
    op.execute("SET LOCAL TIME ZONE 'UTC'")
    op.execute(_PG_READ.replace(":floor", floor).replace(":ceiling", ceiling))
    op.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
    op.execute(
        "UPDATE events SET observed_at = pg_temp.readable_observed_at(payload->>'observedAt'),"
        f" value = {_PG_VALUE}"
    )
    op.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
    op.execute("DROP FUNCTION pg_temp.readable_observed_at(text)")
    op.alter_column("events", "observed_at", nullable=False)
    op.alter_column("events", "value", nullable=False)
    op.create_index(INDEX, "events", INDEX_COLUMNS, postgresql_where=CAPABILITY_STATUS_EVENTS)


def _upgrade_sqlite() -> None:
    """SQLite cannot disable a trigger, and altering a column rebuilds the
    table (which drops its triggers): both triggers are dropped and created
    again around the change."""
    _drop_sqlite_triggers()
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("value", sa.Boolean(), nullable=True))
    bind = op.get_bind()
    events = sa.table(
        "events",
        sa.column("id", sa.Uuid()),
        sa.column("observed_at", sa.DateTime()),
        sa.column("value", sa.Boolean()),
    )
    update = (
        sa.update(events)
        .where(events.c.id == sa.bindparam("event_id"))
        .values(observed_at=sa.bindparam("observed"), value=sa.bindparam("on"))
    )
    rows = bind.execute(sa.text("SELECT id, payload FROM events")).all()
    for start in range(0, len(rows), BATCH):
        bind.execute(
            update,
            [
                {"event_id": _uuid(r.id), **_read(r.payload)}
                for r in rows[start : start + BATCH]
            ],
        )
    with op.batch_alter_table("events") as batch:
        batch.alter_column("observed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("value", existing_type=sa.Boolean(), nullable=False)
    op.create_index(INDEX, "events", INDEX_COLUMNS, sqlite_where=CAPABILITY_STATUS_EVENTS)
    _create_sqlite_triggers()


def _uuid(value: Any) -> Any:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=str(value))


def _read(payload: Any) -> dict[str, Any]:
    """observedAt (naive UTC, as SQLite stores the column) and value."""
    try:
        loaded = json.loads(payload) if isinstance(payload, str) else payload
    except ValueError:
        loaded = None
    if not isinstance(loaded, dict):
        loaded = {}
    return {
        "observed": _readable(loaded.get("observedAt")).replace(tzinfo=None),
        "on": bool(loaded.get("value")),
    }


def _readable(text: object) -> datetime:
    """``readable_instant_text``: never raises."""
    if not isinstance(text, str):
        return READ_FLOOR
    if text.strip().lower() in ("infinity", "+infinity"):
        return READ_CEILING
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return READ_FLOOR
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return READ_FLOOR if value.year < 5000 else READ_CEILING
    return min(max(utc, READ_FLOOR), READ_CEILING)


def _drop_sqlite_triggers() -> None:
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS events_no_{action}")


def _create_sqlite_triggers() -> None:
    for action in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")
