"""PostgreSQL: per-minute and per-quarter-hour rollups of the load-chart
readings, so a chart over days reads one row per subject and cell instead of
every reading.

``reading_rollups`` holds, per (depot, subject, grain, cell), for each reading
column its min, max, sum and count and its newest value with that value's
(observed_us, seq) — everything a bucket needs, and all of it combines
whatever the order readings arrive in (a late reading is folded in like any
other). A statement-level trigger on ``readings`` keeps it, in the inserting
transaction, from the statement's transition table: one INSERT ... ON
CONFLICT per insert statement, whoever inserts (the ingest paths, COPY, a
migration). It is partitioned by ``cell_us`` like ``readings``
(persistence/partitions.py), so retention drops its old days too.

A chart whose bucket width is a whole number of cells (the domain's bucket
widths from a minute on are) reads the cells wholly inside its range and the
raw readings of the two part-cells at its ends, one index range per subject
(``buckets_statement``). Narrower buckets read the raw readings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, TextClause, Uuid, bindparam, text

CELL_PARAMETERS = ("grain", "low_cell", "high_cell", "inner_lo", "inner_hi")
"""The parameters :func:`cell_bounds` gives the bucket statements."""
GRAINS = (60, 900)
"""Cell widths in seconds, widest first when choosing (``grain_for``)."""
_US = 1_000_000


def columns(value_columns: Sequence[str]) -> list[tuple[str, str]]:
    """The rollup's value columns with their SQL types, per reading column."""
    out: list[tuple[str, str]] = []
    for c in value_columns:
        out += [
            (f"{c}_min", "double precision"),
            (f"{c}_max", "double precision"),
            (f"{c}_sum", "double precision NOT NULL DEFAULT 0"),
            (f"{c}_count", "integer NOT NULL DEFAULT 0"),
            (f"{c}_last", "double precision"),
            (f"{c}_last_us", "bigint"),
            (f"{c}_last_seq", "bigint"),
        ]
    return out


def fold_statement(value_columns: Sequence[str], source: str) -> str:
    """Fold the readings of ``source`` (the trigger's transition table, or
    ``readings`` for a backfill) into ``reading_rollups`` at every grain."""
    grains = ", ".join(f"({g})" for g in GRAINS)
    inner = ", ".join(
        f"min({c}) AS {c}_min, max({c}) AS {c}_max, coalesce(sum({c}), 0) AS {c}_sum, "
        f"count({c})::integer AS {c}_count, "
        f"max(ARRAY[observed_us::float8, seq::float8, {c}]) FILTER (WHERE {c} IS NOT NULL) AS {c}_a"
        for c in value_columns
    )
    outer = ", ".join(
        f"{c}_min, {c}_max, {c}_sum, {c}_count, {c}_a[3], {c}_a[1]::bigint, {c}_a[2]::bigint"
        for c in value_columns
    )
    names = ", ".join(name for name, _ in columns(value_columns))
    updates = []
    for c in value_columns:
        newer = (
            f"excluded.{c}_count > 0 AND (r.{c}_count = 0 OR "
            f"(excluded.{c}_last_us, excluded.{c}_last_seq) > (r.{c}_last_us, r.{c}_last_seq))"
        )
        updates += [
            f"{c}_min = least(r.{c}_min, excluded.{c}_min)",
            f"{c}_max = greatest(r.{c}_max, excluded.{c}_max)",
            f"{c}_sum = r.{c}_sum + excluded.{c}_sum",
            f"{c}_count = r.{c}_count + excluded.{c}_count",
            *(
                f"{c}_{part} = CASE WHEN {newer} THEN excluded.{c}_{part} ELSE r.{c}_{part} END"
                for part in ("last", "last_us", "last_seq")
            ),
        ]
    return (
        f"INSERT INTO reading_rollups AS r (depot_id, subject_id, grain_s, cell_us, {names}) "
        f"SELECT depot_id, subject_id, grain_s, cell_us, {outer} FROM ("
        f" SELECT depot_id, subject_id, g.grain_s,"
        f" observed_us - observed_us % (g.grain_s * {_US}::bigint) AS cell_us, {inner}"
        f" FROM {source} CROSS JOIN (VALUES {grains}) AS g(grain_s)"
        " GROUP BY depot_id, subject_id, g.grain_s, 4) folded"
        " ON CONFLICT (depot_id, grain_s, cell_us, subject_id) DO UPDATE SET " + ", ".join(updates)
    )


def grain_for(bucket_seconds: int) -> int | None:
    """The widest grain that divides the bucket width, if any."""
    for grain in sorted(GRAINS, reverse=True):
        if bucket_seconds % grain == 0:
            return grain
    return None


def buckets_statement(value_columns: Sequence[str], *, one_cell_per_bucket: bool) -> TextClause:
    """Buckets from the cells inside ``[inner_lo, inner_hi)`` and the raw
    readings of ``[start, inner_lo)`` and ``[inner_hi, end)``; the raw parts
    are read per subject found in the two end cells (every reading has a
    cell), by the readings' (depot, subject, observed_us) index. Output as
    the raw bucket statements: per column min, sum, count, max, last.

    When a bucket is one cell (``one_cell_per_bucket``: the width is the
    grain) the cells are the buckets as they stand and only the raw parts are
    aggregated (they fall in other buckets than the inner cells); otherwise
    every part is aggregated per bucket, the newest value by (observed_us, seq)."""
    raw = (
        "SELECT r.subject_id, r.observed_us / :width - :first AS i, r.observed_us, r.seq, {values}"
        " FROM end_subjects s JOIN readings r ON r.depot_id = :depot"
        " AND r.subject_id = s.subject_id AND r.observed_us >= {low} AND r.observed_us < {high}"
    )
    values = ", ".join(f"r.{c}" for c in value_columns)
    edges = (
        raw.format(values=values, low=":start", high=":inner_lo")
        + " UNION ALL "
        + raw.format(values=values, low=":inner_hi", high=":end")
    )
    cells_where = (
        " FROM reading_rollups WHERE depot_id = :depot AND grain_s = :grain"
        " AND cell_us >= :inner_lo AND cell_us < :inner_hi"
    )
    end_subjects = (
        "WITH end_subjects AS (SELECT DISTINCT subject_id FROM reading_rollups"
        " WHERE depot_id = :depot AND grain_s = :grain AND cell_us IN (:low_cell, :high_cell))"
    )
    if one_cell_per_bucket:
        raw_aggregates = ", ".join(
            f"min({c}), sum({c}), count({c}), max({c}), "
            f"(max(ARRAY[observed_us::float8, seq::float8, {c}]) FILTER (WHERE {c} IS NOT NULL))[3]"
            for c in value_columns
        )
        cell_values = ", ".join(
            f"{c}_min, {c}_sum, {c}_count, {c}_max, {c}_last" for c in value_columns
        )
        sql = (
            end_subjects
            + f" SELECT subject_id, cell_us / :width - :first AS i, {cell_values}{cells_where}"
            + f" UNION ALL SELECT subject_id, i, {raw_aggregates} FROM ({edges}) raw"
            " GROUP BY subject_id, i ORDER BY 1, 2"
        )
    else:
        names = ", ".join(
            f"{c}_min, {c}_max, {c}_sum, {c}_count, {c}_last_us, {c}_last_seq, {c}_last"
            for c in value_columns
        )
        from_raw = ", ".join(
            f"{c}, {c}, {c}, ({c} IS NOT NULL)::integer, observed_us, seq, {c}"
            for c in value_columns
        )
        aggregates = ", ".join(
            f"min({c}_min), sum({c}_sum), sum({c}_count), max({c}_max), "
            f"(max(ARRAY[{c}_last_us::float8, {c}_last_seq::float8, {c}_last])"
            f" FILTER (WHERE {c}_count > 0))[3]"
            for c in value_columns
        )
        sql = (
            end_subjects
            + f", parts (subject_id, i, {names}) AS ("
            + f"SELECT subject_id, cell_us / :width - :first, {names}{cells_where}"
            + f" UNION ALL SELECT subject_id, i, {from_raw} FROM ({edges}) raw"
            + f") SELECT subject_id, i, {aggregates} FROM parts"
            " GROUP BY subject_id, i ORDER BY subject_id, i"
        )
    names_bigint = ("start", "end", "width", "first", *CELL_PARAMETERS)
    return text(sql).bindparams(
        bindparam("depot", type_=Uuid()), *(bindparam(n, type_=BigInteger()) for n in names_bigint)
    )


def cell_bounds(start_us: int, end_us: int, grain: int) -> dict[str, int]:
    """The statement's cell parameters for ``[start_us, end_us)``: the cells
    wholly inside, and the cells holding each end."""
    g = grain * _US
    low_cell, high_cell = start_us - start_us % g, end_us - end_us % g
    inner_lo = start_us if start_us == low_cell else low_cell + g
    inner_hi = high_cell
    if inner_lo >= inner_hi:
        inner_lo = inner_hi = end_us
    return {
        "grain": grain,
        "low_cell": low_cell,
        "high_cell": high_cell,
        "inner_lo": inner_lo,
        "inner_hi": inner_hi,
    }
