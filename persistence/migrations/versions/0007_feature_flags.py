"""Feature-flag settings: a global value per flag and per-depot overrides.

Revision ID: 0007
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feature_flag_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("depot_id", sa.Uuid(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["depot_id"],
            ["depots.id"],
            name=op.f("fk_feature_flag_settings_depot_id_depots"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_flag_settings")),
    )
    # NULL never equals NULL in a unique constraint, so the global setting
    # (depot_id NULL) gets its own partial index on both databases.
    op.create_index(
        "uq_feature_flag_settings_global_key",
        "feature_flag_settings",
        ["key"],
        unique=True,
        sqlite_where=sa.text("depot_id IS NULL"),
        postgresql_where=sa.text("depot_id IS NULL"),
    )
    op.create_index(
        "uq_feature_flag_settings_depot_key",
        "feature_flag_settings",
        ["depot_id", "key"],
        unique=True,
        sqlite_where=sa.text("depot_id IS NOT NULL"),
        postgresql_where=sa.text("depot_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_feature_flag_settings_depot_key", table_name="feature_flag_settings")
    op.drop_index("uq_feature_flag_settings_global_key", table_name="feature_flag_settings")
    op.drop_table("feature_flag_settings")
