"""PostgreSQL: per-minute and per-quarter-hour rollups of the chart readings
(persistence/reading_rollups.py), kept by a statement-level trigger on
``readings`` and built here from the readings already stored. Partitioned by
``cell_us`` like ``readings`` (persistence/partitions.py). SQLite charts read
the raw readings and gets nothing from this revision.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op

from persistence.partitions import SCHEMA, ensure_partitions_sync
from persistence.reading_rollups import columns, fold_statement

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READING_COLUMNS = ("load_w", "soc_percent", "available_w", "fail_safe_w", "effective_w")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    values = ", ".join(f"{name} {kind}" for name, kind in columns(READING_COLUMNS))
    op.execute(f"""
        CREATE TABLE reading_rollups (
            depot_id uuid NOT NULL,
            subject_id uuid NOT NULL,
            grain_s integer NOT NULL,
            cell_us bigint NOT NULL,
            {values},
            PRIMARY KEY (depot_id, grain_s, cell_us, subject_id)
        ) PARTITION BY RANGE (cell_us)""")
    op.execute(f"CREATE TABLE {SCHEMA}.reading_rollups_default PARTITION OF reading_rollups DEFAULT")
    ensure_partitions_sync(bind, datetime.now(UTC))
    op.execute(fold_statement(READING_COLUMNS, "readings"))
    op.execute(f"""
        CREATE FUNCTION fold_reading_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {fold_statement(READING_COLUMNS, "fresh")};
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER readings_fold_rollups AFTER INSERT ON readings
        REFERENCING NEW TABLE AS fresh FOR EACH STATEMENT
        EXECUTE FUNCTION fold_reading_rollups()""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER readings_fold_rollups ON readings")
    op.execute("DROP FUNCTION fold_reading_rollups()")
    op.execute("DROP TABLE reading_rollups")
