"""Sensor actions (an UPDATE_MICROGRID_STATE action is a controller binding),
stored sensor packets with their outcomes, power-source state and circuit
capacity reported by controllers.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def circuit_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("available_capacity_w", sa.Float(), nullable=True),
        sa.Column("fail_safe_capacity_w", sa.Float(), nullable=True),
        sa.Column("heartbeat_status", sa.String(length=32), nullable=True),
        sa.Column("capacity_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capacity_updated_at", sa.DateTime(timezone=True), nullable=True),
    ]


def power_source_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("power_state", sa.String(length=16), nullable=True),
        sa.Column("operational_mode", sa.String(length=16), nullable=True),
        sa.Column("soc_percent", sa.Float(), nullable=True),
        sa.Column("load_w", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    for column in circuit_columns():
        op.add_column("circuits", column)
    for column in power_source_columns():
        op.add_column("power_sources", column)
    op.create_table(
        "sensor_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("microgrid_id", sa.Uuid(), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=True),
        sa.Column("stale_after_seconds", sa.Integer(), nullable=True),
        sa.Column("last_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"],
                                name=op.f("fk_sensor_actions_device_id_devices")),
        sa.ForeignKeyConstraint(["microgrid_id"], ["microgrids.id"],
                                name=op.f("fk_sensor_actions_microgrid_id_microgrids")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_actions")),
        sa.UniqueConstraint("device_id", "type", name=op.f("uq_sensor_actions_device_id_type")),
    )
    op.create_index(op.f("ix_sensor_actions_microgrid_id"), "sensor_actions", ["microgrid_id"])
    op.create_table(
        "sensor_packets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("packet", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"],
                                name=op.f("fk_sensor_packets_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_packets")),
    )
    op.create_index("ix_sensor_packets_device_received", "sensor_packets",
                    ["device_id", "received_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_sensor_packets_device_received", table_name="sensor_packets")
    op.drop_table("sensor_packets")
    op.drop_index(op.f("ix_sensor_actions_microgrid_id"), table_name="sensor_actions")
    op.drop_table("sensor_actions")
    with op.batch_alter_table("power_sources") as batch:
        for column in power_source_columns():
            batch.drop_column(column.name)
    with op.batch_alter_table("circuits") as batch:
        for column in circuit_columns():
            batch.drop_column(column.name)
