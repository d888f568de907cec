"""Initial schema: depots, circuits, microgrids and their grid-connection nodes,
power sources, gateways, devices and API tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 20:48:46.384513
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("depot_ids", sa.JSON(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "depots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_depots")),
    )
    with op.batch_alter_table("depots", schema=None) as batch_op:
        batch_op.create_index("ix_depots_name_id", ["name", "id"], unique=False)

    op.create_table(
        "circuits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("safe_capacity_w", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_circuits_depot_id_depots")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["circuits.id"], name=op.f("fk_circuits_parent_id_circuits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circuits")),
    )
    with op.batch_alter_table("circuits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_circuits_depot_id"), ["depot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_circuits_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "gateways",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("site_model_name", sa.String(length=200), nullable=True),
        sa.Column("output_translation", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_gateways_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateways")),
    )
    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gateways_depot_id"), ["depot_id"], unique=False)

    op.create_table(
        "microgrids",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_microgrids_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_microgrids")),
    )
    with op.batch_alter_table("microgrids", schema=None) as batch_op:
        batch_op.create_index(
            "uq_microgrids_active_depot",
            ["depot_id"],
            unique=True,
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("gateway_id", sa.Uuid(), nullable=True),
        sa.Column("circuit_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["circuit_id"], ["circuits.id"], name=op.f("fk_devices_circuit_id_circuits")
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_devices_depot_id_depots")
        ),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["gateways.id"], name=op.f("fk_devices_gateway_id_gateways")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_depot_id"), ["depot_id"], unique=False)

    op.create_table(
        "microgrid_nodes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("microgrid_id", sa.Uuid(), nullable=False),
        sa.Column("node_type", sa.String(length=32), nullable=False),
        sa.Column("circuit_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["microgrid_id"],
            ["microgrids.id"],
            name=op.f("fk_microgrid_nodes_microgrid_id_microgrids"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_microgrid_nodes")),
        sa.UniqueConstraint(
            "microgrid_id", "circuit_id", name=op.f("uq_microgrid_nodes_microgrid_id_circuit_id")
        ),
    )
    op.create_table(
        "power_sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("circuit_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["circuit_id"], ["circuits.id"], name=op.f("fk_power_sources_circuit_id_circuits")
        ),
        sa.ForeignKeyConstraint(
            ["depot_id"], ["depots.id"], name=op.f("fk_power_sources_depot_id_depots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_power_sources")),
    )
    with op.batch_alter_table("power_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_power_sources_depot_id"), ["depot_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("power_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_power_sources_depot_id"))

    op.drop_table("power_sources")
    op.drop_table("microgrid_nodes")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_depot_id"))

    op.drop_table("devices")
    with op.batch_alter_table("microgrids", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_microgrids_active_depot",
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )

    op.drop_table("microgrids")
    with op.batch_alter_table("gateways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateways_depot_id"))

    op.drop_table("gateways")
    with op.batch_alter_table("circuits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_circuits_parent_id"))
        batch_op.drop_index(batch_op.f("ix_circuits_depot_id"))

    op.drop_table("circuits")
    with op.batch_alter_table("depots", schema=None) as batch_op:
        batch_op.drop_index("ix_depots_name_id")

    op.drop_table("depots")
    op.drop_table("api_tokens")
