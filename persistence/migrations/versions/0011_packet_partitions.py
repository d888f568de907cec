"""Sensor packets (with their outcomes) partitioned by receive time, so that
retention drops a day of them at once (persistence/partitions.py,
persistence/retention.py).

PostgreSQL: ``sensor_packets`` becomes RANGE-partitioned on ``received_at``,
one partition a UTC day in the schema ``packet_partitions`` plus a DEFAULT
partition. The existing rows move into it: a partition is created for each
day that holds rows (at most :data:`BACKFILL_DAYS` back; older rows go to the
DEFAULT partition, whose old rows the retention job deletes), and from today
to two weeks ahead, and PostgreSQL routes the rows into them.

Keys: a partitioned table's unique keys must include the partition key, so
the primary key becomes ``(id, received_at)``. That loses nothing a reader
relies on: packet ids are the server's own uuid4s (never a client's key), the
page cursor is ``(received_at, id)``, which the key covers, and ingest's
idempotency lives in the unpartitioned events table (``(stream_id,
idempotency_key)``), kept for ever. The device foreign key and the page index
``(device_id, received_at, id)`` are declared on the parent, so every
partition has them.

SQLite: unchanged (no partitions; retention deletes in batches).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from persistence.partitions import (
    PACKET_SCHEMA,
    create_partition_sync,
    ensure_partitions_sync,
    packet_layouts,
)

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_DAYS = 400
COLUMNS = "id, device_id, observed_at, received_at, packet, outcomes"
_TABLE = """
    CREATE TABLE sensor_packets (
        id uuid NOT NULL,
        device_id uuid NOT NULL,
        observed_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        packet json NOT NULL,
        outcomes json NOT NULL,
        CONSTRAINT fk_sensor_packets_device_id_devices
            FOREIGN KEY (device_id) REFERENCES devices (id),
        CONSTRAINT pk_sensor_packets PRIMARY KEY ({key})
    ){partitioned}"""
_INDEX = "CREATE INDEX ix_sensor_packets_device_received ON sensor_packets (device_id, received_at, id)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _set_aside()
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {PACKET_SCHEMA}")
    op.execute(
        _TABLE.format(key="id, received_at", partitioned=" PARTITION BY RANGE (received_at)")
    )
    op.execute(_INDEX)
    op.execute(
        f"CREATE TABLE {PACKET_SCHEMA}.sensor_packets_default PARTITION OF sensor_packets DEFAULT"
    )
    now = datetime.now(UTC)
    days = bind.execute(
        sa.text(
            "SELECT DISTINCT date_trunc('day', received_at AT TIME ZONE 'UTC') "
            "FROM sensor_packets_before WHERE received_at >= :floor"
        ),
        {"floor": now - timedelta(days=BACKFILL_DAYS)},
    ).scalars()
    layouts = packet_layouts()
    for day in days:
        for layout in layouts:
            create_partition_sync(bind, layout, day.replace(tzinfo=UTC))
    ensure_partitions_sync(bind, now, among=layouts)
    _move_back()


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside()
    op.execute(_TABLE.format(key="id", partitioned=""))
    op.execute(_INDEX)
    _move_back()
    op.execute(f"DROP SCHEMA IF EXISTS {PACKET_SCHEMA} CASCADE")


def _set_aside() -> None:
    """The current table renamed, its key and index names freed for the new one."""
    op.execute("ALTER TABLE sensor_packets RENAME TO sensor_packets_before")
    op.execute("DROP INDEX ix_sensor_packets_device_received")
    op.execute(
        "ALTER TABLE sensor_packets_before RENAME CONSTRAINT pk_sensor_packets "
        "TO pk_sensor_packets_before"
    )
    op.execute(
        "ALTER TABLE sensor_packets_before DROP CONSTRAINT fk_sensor_packets_device_id_devices"
    )


def _move_back() -> None:
    op.execute(f"INSERT INTO sensor_packets ({COLUMNS}) SELECT {COLUMNS} FROM sensor_packets_before")
    op.execute("DROP TABLE sensor_packets_before CASCADE")
