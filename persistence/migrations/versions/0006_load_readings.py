"""Load-chart readings and capacity reports (DESIGN §7), append-only.

PostgreSQL: both tables partitioned by RANGE (observed_us), a DEFAULT
partition each and the partitions from today to two weeks ahead
(persistence/partitions.py: dropping a partition is retention). SQLite: plain
tables. ``seq`` is the write order: a sequence on PostgreSQL, the rowid on
SQLite.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from persistence.partitions import SCHEMA, ensure_partitions_sync

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READING_COLUMNS = ("load_w", "soc_percent", "available_w", "fail_safe_w", "effective_w")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _postgresql()
        ensure_partitions_sync(bind, datetime.now(UTC))
    else:
        _sqlite()
    op.create_index(
        "ix_readings_depot_subject_observed", "readings", ["depot_id", "subject_id", "observed_us"]
    )
    op.create_index(
        "ix_capacity_reports_depot_circuit_observed",
        "capacity_reports",
        ["depot_id", "circuit_id", "observed_us"],
    )


def _postgresql() -> None:
    values = ", ".join(f"{c} double precision" for c in READING_COLUMNS)
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.execute("CREATE SEQUENCE readings_seq AS bigint")
    op.execute(f"""
        CREATE TABLE readings (
            depot_id uuid NOT NULL,
            subject_id uuid NOT NULL,
            observed_us bigint NOT NULL,
            seq bigint NOT NULL DEFAULT nextval('readings_seq'),
            {values}
        ) PARTITION BY RANGE (observed_us)""")
    op.execute("ALTER SEQUENCE readings_seq OWNED BY readings.seq")
    op.execute("CREATE SEQUENCE capacity_reports_seq AS bigint")
    op.execute("""
        CREATE TABLE capacity_reports (
            depot_id uuid NOT NULL,
            circuit_id uuid NOT NULL,
            observed_us bigint NOT NULL,
            seq bigint NOT NULL DEFAULT nextval('capacity_reports_seq'),
            available_w double precision,
            fail_safe_w double precision,
            heartbeat varchar(256)
        ) PARTITION BY RANGE (observed_us)""")
    op.execute("ALTER SEQUENCE capacity_reports_seq OWNED BY capacity_reports.seq")
    for table in ("readings", "capacity_reports"):
        op.execute(f"CREATE TABLE {SCHEMA}.{table}_default PARTITION OF {table} DEFAULT")


def _sqlite() -> None:
    op.create_table(
        "readings",
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("observed_us", sa.BigInteger(), nullable=False),
        *(sa.Column(c, sa.Float(), nullable=True) for c in READING_COLUMNS),
    )
    op.create_table(
        "capacity_reports",
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("depot_id", sa.Uuid(), nullable=False),
        sa.Column("circuit_id", sa.Uuid(), nullable=False),
        sa.Column("observed_us", sa.BigInteger(), nullable=False),
        sa.Column("available_w", sa.Float(), nullable=True),
        sa.Column("fail_safe_w", sa.Float(), nullable=True),
        sa.Column("heartbeat", sa.String(length=256), nullable=True),
    )


def downgrade() -> None:
    op.drop_index("ix_capacity_reports_depot_circuit_observed", table_name="capacity_reports")
    op.drop_index("ix_readings_depot_subject_observed", table_name="readings")
    op.drop_table("capacity_reports")
    op.drop_table("readings")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
