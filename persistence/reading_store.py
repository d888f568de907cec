"""Load-chart readings and capacity reports on SQLite and PostgreSQL.

A ``readings`` row holds the readings of one subject at one instant that one
``add`` wrote, one nullable column per kind (tables.py); a second reading of
the same subject, kind and instant in one ``add`` opens another row, so write
order survives in ``seq``. Buckets are computed in one statement on both
stores, with integer arithmetic on ``observed_us`` (exact to the microsecond):
min, sum, count and max per column, and the newest value per column —
PostgreSQL takes it as the greatest ``[observed_us, seq, value]`` array (one
pass, no sort; both numbers are exact in a double below 2^53), SQLite looks it
up by the index at the newest instant. ``avg`` is ``sum / count``, so it may
differ from a left-to-right sum in the last bits."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, TextClause, Uuid, bindparam, insert, text

from domain.readings import Bucket, CapacityReport, CapacityRun, Reading, ReadingKind
from persistence import reading_rollups
from persistence import tables as t
from persistence.capacity_cells import MIN_STALE_S, runs_from_cells
from persistence.partitions import epoch_us
from persistence.repositories import _Repository

COLUMN_OF: dict[ReadingKind, str] = {
    ReadingKind.POWER_SOURCE_LOAD_W: "load_w",
    ReadingKind.POWER_SOURCE_SOC_PERCENT: "soc_percent",
    ReadingKind.CIRCUIT_AVAILABLE_CAPACITY_W: "available_w",
    ReadingKind.CIRCUIT_FAIL_SAFE_CAPACITY_W: "fail_safe_w",
    ReadingKind.CIRCUIT_EFFECTIVE_CAPACITY_W: "effective_w",
}
KINDS_IN_ORDER = sorted(ReadingKind, key=lambda k: k.value)
"""The order buckets come in within a subject (the kinds' names)."""
_COLUMNS = [COLUMN_OF[k] for k in KINDS_IN_ORDER]
READING_COLUMNS = tuple(_COLUMNS)
"""The value columns, in the order the bucket statements aggregate them."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WIDEST = 2**62
"""A bucket this wide holds every instant a reading can have in bucket 0, and
stays within 64-bit integers."""
_ROWS_PER_INSERT = 1000
"""Under SQLite's bound-parameter limit."""


def from_epoch_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _aggregates(column: str) -> str:
    return f"min({column}), sum({column}), count({column}), max({column})"


def _typed(sql: str) -> TextClause:
    """``sql`` with its parameters typed (SQLite needs the UUID as text)."""
    known = ("depot", "start", "end", "width", "first", "stale", *reading_rollups.CELL_PARAMETERS)
    names = [n for n in known if f":{n}" in sql]
    return text(sql).bindparams(
        *(bindparam(n, type_=Uuid() if n == "depot" else BigInteger()) for n in names)
    )


def per_subject_arrays(statement: TextClause) -> TextClause:
    """``statement`` (rows of subject, bucket and five aggregates per column)
    answered as one row per subject: the bucket positions and the five
    aggregates per column, each an array in the same order. A chart's few
    subjects' arrays cost far less to send and decode than thousands of rows
    of numbers (bench/README.md, "Issue 15"). The average is left to Python:
    PostgreSQL refuses a division whose quotient underflows (a stored reading
    of 1e-320 is plausible)."""
    names = ", ".join(f"{c}_min, {c}_sum, {c}_count, {c}_max, {c}_last" for c in _COLUMNS)
    arrays = ", ".join(f"array_agg({name.strip()})" for name in names.split(","))
    return _typed(
        f"SELECT subject_id, array_agg(i), {arrays}"
        f" FROM ({statement.text}) AS b (subject_id, i, {names})"
        " GROUP BY subject_id ORDER BY subject_id"
    )


BUCKETS_WORK_MEM = text("SELECT set_config('work_mem', '32MB', true)")
"""PostgreSQL, for the rest of the transaction: the planner overestimates the
groups ~8x (it cannot know how many buckets the range holds) and, at the
default 4 MB, sorts the range's rows on disk instead of hashing the groups in
memory; 32 MB lets it hash them (bench/README.md, "Issue 15: readings storage")."""

_RANGE = "depot_id = :depot AND observed_us >= :start AND observed_us < :end"

BUCKETS_POSTGRESQL = _typed(
    "SELECT subject_id, observed_us / :width - :first AS i, "
    + ", ".join(
        f"{_aggregates(c)}, (max(ARRAY[observed_us::float8, seq::float8, {c}]) "
        f"FILTER (WHERE {c} IS NOT NULL))[3]"
        for c in _COLUMNS
    )
    + f" FROM readings WHERE {_RANGE} GROUP BY subject_id, i ORDER BY subject_id, i"
)

BUCKETS_FROM_ROLLUPS = {
    whole: per_subject_arrays(
        reading_rollups.buckets_statement(_COLUMNS, one_cell_per_bucket=whole)
    )
    for whole in (True, False)
}

BUCKETS_POSTGRESQL = per_subject_arrays(BUCKETS_POSTGRESQL)

BUCKETS_SQLITE = _typed(
    "SELECT g.subject_id, g.i, "
    + ", ".join(
        f"g.{c}_min, g.{c}_sum, g.{c}_count, g.{c}_max, "
        f"(SELECT r.{c} FROM readings r WHERE r.depot_id = :depot "
        f"AND r.subject_id = g.subject_id AND r.observed_us = g.{c}_at AND r.{c} IS NOT NULL "
        "ORDER BY r.seq DESC LIMIT 1)"
        for c in _COLUMNS
    )
    + " FROM (SELECT subject_id, observed_us / :width - :first AS i, "
    + ", ".join(
        f"min({c}) AS {c}_min, sum({c}) AS {c}_sum, count({c}) AS {c}_count, "
        f"max({c}) AS {c}_max, max(observed_us) FILTER (WHERE {c} IS NOT NULL) AS {c}_at"
        for c in _COLUMNS
    )
    + f" FROM readings WHERE {_RANGE} GROUP BY subject_id, i) g ORDER BY g.subject_id, g.i"
)

_REPORT_COLUMNS = "depot_id, circuit_id, observed_us, seq, available_w, fail_safe_w, heartbeat"
_CIRCUITS_BEFORE = (
    "WITH RECURSIVE before(id) AS ("
    " SELECT (SELECT circuit_id FROM capacity_reports"
    "  WHERE depot_id = :depot AND observed_us < :start ORDER BY circuit_id LIMIT 1)"
    " UNION ALL"
    " SELECT (SELECT circuit_id FROM capacity_reports"
    "  WHERE depot_id = :depot AND observed_us < :start AND circuit_id > before.id"
    "  ORDER BY circuit_id LIMIT 1)"
    " FROM before WHERE before.id IS NOT NULL) "
)
_NEWEST_BEFORE = (
    "SELECT {columns} FROM capacity_reports n"
    " WHERE n.depot_id = :depot AND n.circuit_id = before.id AND n.observed_us = ("
    "  SELECT max(m.observed_us) FROM capacity_reports m"
    "  WHERE m.depot_id = :depot AND m.circuit_id = before.id AND m.observed_us < :start)"
    " ORDER BY n.seq DESC LIMIT 1"
)
"""The newest instant first (one step down the index), then the report
written last at it: ordering by (observed_us, seq) at once made PostgreSQL
sort every earlier report of the circuit, a cost that grew with history."""
_INSIDE = f"SELECT {_REPORT_COLUMNS} FROM capacity_reports WHERE {_RANGE}"

_SEEDS = {
    "postgresql": "SELECT r.* FROM before CROSS JOIN LATERAL ("
    + _NEWEST_BEFORE.format(columns=_REPORT_COLUMNS)
    + ") r",
    "sqlite": f"SELECT {', '.join('r.' + c for c in _REPORT_COLUMNS.split(', '))}"
    + " FROM before JOIN capacity_reports r"
    + f" ON r.seq = ({_NEWEST_BEFORE.format(columns='n.seq')})",
}
_CLASS = (
    "CASE WHEN heartbeat = 'ok' AND available_w IS NOT NULL THEN 0"
    " WHEN fail_safe_w IS NOT NULL THEN 1 ELSE 2 END"
)
"""``domain.chart_intervals.source_class``: 0 available (goes stale), 1
fail-safe, 2 configured safe."""


def _runs(dialect: str) -> TextClause:
    """The statement behind ``capacity_runs``: per circuit the chain from its
    newest report before ``start`` (a skip scan of the circuits, one index
    lookup each) through ``[start, end)``; over the chain in (observed_us,
    seq) order, one window pass flags the reports that begin a run (the
    source class differs from the previous report's, or it is class 0 and
    observed once the previous one went stale) and those that end one (the
    next begins one, or there is none). Only flagged rows come back. The
    staleness test subtracts two observed_us, so it is exact and cannot
    overflow."""
    return _typed(
        _CIRCUITS_BEFORE
        + f", chain AS ({_SEEDS[dialect]} UNION ALL {_INSIDE}),"
        + f" classed AS (SELECT *, {_CLASS} AS class FROM chain),"
        + " flagged AS (SELECT *,"
        + " lag(class) OVER w AS previous_class, lag(observed_us) OVER w AS previous_us,"
        + " lead(class) OVER w AS next_class, lead(observed_us) OVER w AS next_us"
        + " FROM classed WINDOW w AS (PARTITION BY circuit_id ORDER BY observed_us, seq)),"
        + f" ends AS (SELECT {_REPORT_COLUMNS},"
        + " (previous_class IS NULL OR class <> previous_class"
        + "  OR (class = 0 AND observed_us - previous_us >= :stale)) AS starts,"
        + " (next_class IS NULL OR class <> next_class"
        + "  OR (class = 0 AND next_us - observed_us >= :stale)) AS ends"
        + " FROM flagged)"
        + f" SELECT {_REPORT_COLUMNS}, starts, ends FROM ends WHERE starts OR ends"
        + " ORDER BY circuit_id, observed_us, seq"
    )


RUNS = {dialect: _runs(dialect) for dialect in ("postgresql", "sqlite")}
RUNS_FROM_CELLS = runs_from_cells(_CIRCUITS_BEFORE, _SEEDS["postgresql"], _CLASS)
"""PostgreSQL, ``stale_after`` >= ``MIN_STALE_S``: the rows ``RUNS`` returns,
read from capacity cells (persistence/capacity_cells.py)."""


def reading_rows(readings: Iterable[Reading]) -> list[dict[str, Any]]:
    """One row per (depot, subject, instant) where the kinds allow; a repeated
    kind opens a later row, so ``seq`` keeps the readings' order."""
    rows: list[dict[str, Any]] = []
    open_rows: dict[tuple[UUID, UUID, int], list[dict[str, Any]]] = {}
    for reading in readings:
        column = COLUMN_OF[reading.kind]
        key = (reading.depot_id, reading.subject_id, epoch_us(reading.observed_at))
        candidates = open_rows.setdefault(key, [])
        for row in candidates:
            if row[column] is None:
                row[column] = reading.value
                break
        else:
            row = {"depot_id": key[0], "subject_id": key[1], "observed_us": key[2]}
            row.update(dict.fromkeys(_COLUMNS))
            row[column] = reading.value
            candidates.append(row)
            rows.append(row)
    return rows


def _report_row(report: CapacityReport) -> dict[str, Any]:
    return {
        "depot_id": report.depot_id,
        "circuit_id": report.circuit_id,
        "observed_us": epoch_us(report.observed_at),
        "available_w": report.available_w,
        "fail_safe_w": report.fail_safe_w,
        "heartbeat": report.heartbeat,
    }


def buckets_from_rows(rows: Sequence[Sequence[Any]]) -> list[Bucket]:
    """Rows ordered by (subject, index), one per (subject, index) with five
    aggregates per column, as buckets ordered by (subject, kind name, index)."""
    out: list[Bucket] = []
    columns = [(kind, 2 + 5 * k) for k, kind in enumerate(KINDS_IN_ORDER)]
    start = 0
    while start < len(rows):
        subject_id = rows[start][0]
        end = start
        while end < len(rows) and rows[end][0] == subject_id:
            end += 1
        subject = _uuid(subject_id)
        group = rows[start:end]
        for kind, at in columns:
            out.extend(
                Bucket(
                    subject,
                    kind,
                    int(row[1]),
                    float(row[at]),
                    float(row[at + 1]) / row[at + 2],
                    float(row[at + 3]),
                    float(row[at + 4]),
                )
                for row in group
                if row[at + 2]
            )
        start = end
    return out


def buckets_from_arrays(rows: Sequence[Sequence[Any]]) -> list[Bucket]:
    """Rows of :func:`per_subject_arrays`, ordered by subject, as buckets
    ordered by (subject, kind name, position)."""
    out: list[Bucket] = []
    for row in rows:
        subject, positions = _uuid(row[0]), row[1]
        order = sorted(range(len(positions)), key=positions.__getitem__)
        for k, kind in enumerate(KINDS_IN_ORDER):
            mins, sums, counts, maxs, lasts = row[2 + 5 * k : 7 + 5 * k]
            out.extend(
                Bucket(subject, kind, positions[j], mins[j], sums[j] / counts[j], maxs[j], lasts[j])
                for j in order
                if counts[j]
            )
    return out


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def report_from_row(row: Any) -> CapacityReport:
    return CapacityReport(
        depot_id=_uuid(row[0]),
        circuit_id=_uuid(row[1]),
        observed_at=from_epoch_us(int(row[2])),
        available_w=row[4],
        fail_safe_w=row[5],
        heartbeat=row[6],
    )


def runs_from_rows(rows: Sequence[Sequence[Any]]) -> list[CapacityRun]:
    """Rows of run ends in order, each flagged ``starts`` and ``ends``, as runs."""
    runs: list[CapacityRun] = []
    first: CapacityReport | None = None
    for row in rows:
        report = report_from_row(row)
        if row[7] or first is None:
            first = report
        if row[8]:
            runs.append(CapacityRun(first, report))
    return runs


class SqlReadings(_Repository):
    async def add(self, readings: Collection[Reading], reports: Collection[CapacityReport]) -> None:
        rows = reading_rows(readings)
        for i in range(0, len(rows), _ROWS_PER_INSERT):
            await self._conn.execute(insert(t.readings).values(rows[i : i + _ROWS_PER_INSERT]))
        report_rows = [_report_row(r) for r in reports]
        for i in range(0, len(report_rows), _ROWS_PER_INSERT):
            await self._conn.execute(
                insert(t.capacity_reports).values(report_rows[i : i + _ROWS_PER_INSERT])
            )

    async def buckets(
        self, depot_id: UUID, start: datetime, end: datetime, bucket_seconds: int
    ) -> list[Bucket]:
        if bucket_seconds < 1:
            raise ValueError("buckets are at least one second wide")
        low, high = epoch_us(start), epoch_us(end)
        width = min(bucket_seconds * 1_000_000, _WIDEST)
        params: dict[str, Any] = {
            "depot": depot_id,
            "start": low,
            "end": high,
            "width": width,
            "first": low // width,
        }
        statement = BUCKETS_SQLITE
        if self._dialect == "postgresql":
            grain = reading_rollups.grain_for(bucket_seconds)
            if grain is None:
                statement = BUCKETS_POSTGRESQL
                await self._conn.execute(BUCKETS_WORK_MEM)
            else:
                statement = BUCKETS_FROM_ROLLUPS[grain == bucket_seconds]
                params.update(reading_rollups.cell_bounds(low, high, grain))
        result = await self._conn.execute(statement, params)
        if self._dialect == "postgresql":
            return buckets_from_arrays(result.all())
        return buckets_from_rows(result.all())

    async def capacity_runs(
        self, depot_id: UUID, start: datetime, end: datetime, stale_after_seconds: int
    ) -> list[CapacityRun]:
        params = {
            "depot": depot_id,
            "start": epoch_us(start),
            "end": epoch_us(end),
            "stale": stale_after_seconds * 1_000_000,
        }
        statement = RUNS[self._dialect]
        if self._dialect == "postgresql" and stale_after_seconds >= MIN_STALE_S:
            statement = RUNS_FROM_CELLS
        result = await self._conn.execute(statement, params)
        return runs_from_rows(result.all())
