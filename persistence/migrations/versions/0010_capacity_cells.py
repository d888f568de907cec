"""Capacity cells: per circuit and 15-minute cell of ``observed_us``, what the
capacity-runs read needs to skip the cell's reports (persistence/capacity_cells.py).

PostgreSQL only; on SQLite this revision does nothing (the runs read there
scans the reports, as before). ``capacity_cells`` holds one row per (depot,
circuit, cell): ``classes``, a bit per source class of the cell's reports
(``1 << class``, the class as ``reading_store._CLASS``); ``minutes``, a bit per
minute of the cell (0..14) holding a report; and the cell's first and last
report in (observed_us, seq) order. It is partitioned by RANGE (cell_us) like
the reports (``persistence.partitions.PARTITIONED``), so retention drops its
partitions with theirs.

A statement-level AFTER INSERT trigger on ``capacity_reports`` folds each
statement's new rows (its transition table; partitioned tables and COPY
included) into the cells with one INSERT ... ON CONFLICT DO UPDATE: the masks
OR-ed, the first the smaller by (observed_us, seq), the last the greater. That
is order-independent, so late reports land as if written in order. An AFTER
TRUNCATE trigger empties the cells with the reports. Rows moved between the
reports' partitions (ensure_partitions) are inserted into a partition, not
the parent, and are not counted twice. The trigger is created before the
backfill, in this revision's transaction: its lock keeps new reports out until
both are committed.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op

from persistence.partitions import SCHEMA, ensure_partitions_sync

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CELL_US = 900_000_000
"""``persistence.capacity_cells.CELL`` at this revision."""
# reading_store._CLASS at this revision (a migration does not follow later code)
CLASS = (
    "CASE WHEN heartbeat = 'ok' AND available_w IS NOT NULL THEN 0"
    " WHEN fail_safe_w IS NOT NULL THEN 1 ELSE 2 END"
)
REPORT = ("us", "seq", "available_w", "fail_safe_w", "heartbeat")
_SOURCE = {"us": "observed_us"}


def cells_from(source: str) -> str:
    """The cells of the reports in ``source`` (a table or transition table),
    one row per (depot, circuit, cell), in key order (so concurrent writers
    lock shared cells in one order)."""
    cell = f"observed_us - ((observed_us % {CELL_US}) + {CELL_US}) % {CELL_US}"
    ends = ", ".join(
        f"min({_SOURCE.get(c, c)}) FILTER (WHERE {end} = 1)"
        for end in ("a", "d")
        for c in REPORT
    )
    return (
        "SELECT depot_id, circuit_id, cell_us, bit_or(1 << class), bit_or(1 << minute), "
        + ends
        + " FROM (SELECT *, ((observed_us - cell_us) / 60000000)::int AS minute,"
        " row_number() OVER (PARTITION BY depot_id, circuit_id, cell_us"
        "  ORDER BY observed_us, seq) AS a,"
        " row_number() OVER (PARTITION BY depot_id, circuit_id, cell_us"
        "  ORDER BY observed_us DESC, seq DESC) AS d"
        f" FROM (SELECT depot_id, circuit_id, observed_us, seq, available_w, fail_safe_w,"
        f" heartbeat, {CLASS} AS class, {cell} AS cell_us FROM {source}) r) r"
        " GROUP BY depot_id, circuit_id, cell_us ORDER BY depot_id, circuit_id, cell_us"
    )


_COLUMNS = ", ".join(
    ["depot_id", "circuit_id", "cell_us", "classes", "minutes"]
    + [f"{end}_{c}" for end in ("first", "last") for c in REPORT]
)
_MERGE = ", ".join(
    ["classes = c.classes | excluded.classes", "minutes = c.minutes | excluded.minutes"]
    + [
        f"{end}_{c} = CASE WHEN (excluded.{end}_us, excluded.{end}_seq) {op_}"
        f" (c.{end}_us, c.{end}_seq) THEN excluded.{end}_{c} ELSE c.{end}_{c} END"
        for end, op_ in (("first", "<"), ("last", ">"))
        for c in REPORT
    ]
)


def upsert_cells(source: str) -> str:
    return (
        f"INSERT INTO capacity_cells AS c ({_COLUMNS}) {cells_from(source)}"
        f" ON CONFLICT (depot_id, circuit_id, cell_us) DO UPDATE SET {_MERGE}"
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    report = (
        "{end}_us bigint NOT NULL, {end}_seq bigint NOT NULL,"
        " {end}_available_w double precision, {end}_fail_safe_w double precision,"
        " {end}_heartbeat varchar(256)"
    )
    op.execute(f"""
        CREATE TABLE capacity_cells (
            depot_id uuid NOT NULL,
            circuit_id uuid NOT NULL,
            cell_us bigint NOT NULL,
            classes int NOT NULL,
            minutes int NOT NULL,
            {report.format(end="first")},
            {report.format(end="last")},
            PRIMARY KEY (depot_id, circuit_id, cell_us)
        ) PARTITION BY RANGE (cell_us)""")
    op.execute(f"CREATE TABLE {SCHEMA}.capacity_cells_default PARTITION OF capacity_cells DEFAULT")
    ensure_partitions_sync(bind, datetime.now(UTC))
    op.execute(f"""
        CREATE FUNCTION capacity_cells_add() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {upsert_cells("new_reports")};
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER capacity_cells_add AFTER INSERT ON capacity_reports
        REFERENCING NEW TABLE AS new_reports
        FOR EACH STATEMENT EXECUTE FUNCTION capacity_cells_add()""")
    op.execute("""
        CREATE FUNCTION capacity_cells_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            TRUNCATE capacity_cells;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE TRIGGER capacity_cells_truncate AFTER TRUNCATE ON capacity_reports
        FOR EACH STATEMENT EXECUTE FUNCTION capacity_cells_truncate()""")
    op.execute(upsert_cells("capacity_reports"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER capacity_cells_truncate ON capacity_reports")
    op.execute("DROP TRIGGER capacity_cells_add ON capacity_reports")
    op.execute("DROP FUNCTION capacity_cells_truncate()")
    op.execute("DROP FUNCTION capacity_cells_add()")
    op.execute("DROP TABLE capacity_cells")
