"""PostgreSQL: capacity runs read from 15-minute cells instead of every report.

``capacity_cells`` (migration 0010, kept by a trigger on ``capacity_reports``)
holds per circuit and :data:`CELL` the source classes and the minutes its
reports fall in, and its first and last report in (observed_us, seq) order.
Every report is read through its cell: one inserted straight into a
partition (the trigger is on the parent) or with the trigger disabled is
not seen here.

A cell is *simple* when its reports have one source class and, for
available capacity (class 0), its minutes with a report are contiguous: two
consecutive reports are then less than two minutes apart, so with
``stale_after`` of at least :data:`MIN_STALE_S` none of them begins or ends a
run except possibly its first (against the report before the cell) and its
last (against the one after). A simple cell stands in for its reports by its
first and last, the last marked ``joined`` (it continues the row before it
whatever the gap); any other cell, and the partial cells at the ends of the
range, give their reports in the range. Over that shorter chain the flags are
``reading_store.RUNS``' with the staleness test skipped at joined rows, so
the statement returns the rows ``RUNS`` returns."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import BigInteger, TextClause, Uuid, bindparam, text

CELL = timedelta(seconds=900)
"""The width migration 0010 builds cells at (changing it needs a migration
that rebuilds them)."""
CELL_US = CELL // timedelta(microseconds=1)
MIN_STALE_S = 120
"""The least ``stale_after_seconds`` the cells answer for; below it, ``RUNS``."""

_REPORT = "depot_id, circuit_id, observed_us, seq, available_w, fail_safe_w, heartbeat"
_SIMPLE = (
    "(classes & (classes - 1)) = 0 AND (classes <> 1"
    " OR ((minutes / (minutes & -minutes)) & (minutes / (minutes & -minutes) + 1)) = 0)"
)
_CELLS = (
    f"SELECT *, (cell_us >= :start AND cell_us + {CELL_US} <= :end AND {_SIMPLE}) AS collapsed"
    f" FROM capacity_cells WHERE depot_id = :depot AND cell_us > :start - {CELL_US}"
    " AND cell_us < :end"
)
"""The cells overlapping ``[start, end)``; ``collapsed``: simple and wholly inside."""
_RAW = (
    f"SELECT r.*, false FROM cells c CROSS JOIN LATERAL (SELECT {_REPORT}"
    " FROM capacity_reports WHERE depot_id = :depot AND circuit_id = c.circuit_id"
    " AND observed_us >= greatest(c.cell_us, :start)"
    f" AND observed_us < least(c.cell_us + {CELL_US}, :end) OFFSET 0) r WHERE NOT c.collapsed"
)


def _end(end: str, joined: bool) -> str:
    return (
        f"SELECT depot_id, circuit_id, {end}_us, {end}_seq, {end}_available_w,"
        f" {end}_fail_safe_w, {end}_heartbeat, {str(joined).lower()} FROM cells WHERE collapsed"
    )


def runs_from_cells(circuits_before: str, seeds: str, source_class: str) -> TextClause:
    """The cells statement, from ``RUNS``' parts and with its parameters:
    ``circuits_before`` (the ``WITH RECURSIVE before`` clause), ``seeds``
    (each circuit's newest report before ``:start``) and ``source_class`` (the
    class of a report's columns).

    The reports of the other cells are looked up per cell, so the plan is the
    same whatever the parameters (a prepared statement's generic plan
    included); the ``OFFSET 0`` keeps that lateral subquery from being
    flattened into a join, which the planner (underestimating those cells,
    and unable to prune the partitions before run time) may hash over every
    report of the depot."""
    chain = " UNION ALL ".join(
        [
            f"SELECT {_REPORT}, false FROM ({seeds}) s",
            _RAW,
            _end("first", False),
            _end("last", True) + " AND last_seq <> first_seq",
        ]
    )
    sql = (
        circuits_before
        + f", cells AS ({_CELLS}),"
        + f" chain({_REPORT}, joined) AS ({chain}),"
        + f" classed AS (SELECT *, {source_class} AS class FROM chain),"
        + " flagged AS (SELECT *,"
        + " lag(class) OVER w AS previous_class, lag(observed_us) OVER w AS previous_us,"
        + " lead(class) OVER w AS next_class, lead(observed_us) OVER w AS next_us,"
        + " lead(joined) OVER w AS next_joined"
        + " FROM classed WINDOW w AS (PARTITION BY circuit_id ORDER BY observed_us, seq)),"
        + f" ends AS (SELECT {_REPORT},"
        + " (previous_class IS NULL OR class <> previous_class"
        + "  OR (class = 0 AND NOT joined AND observed_us - previous_us >= :stale)) AS starts,"
        + " (next_class IS NULL OR class <> next_class"
        + "  OR (class = 0 AND NOT next_joined AND next_us - observed_us >= :stale)) AS ends"
        + " FROM flagged)"
        + f" SELECT {_REPORT}, starts, ends FROM ends WHERE starts OR ends"
        + " ORDER BY circuit_id, observed_us, seq"
    )
    names = ("depot", "start", "end", "stale")
    return text(sql).bindparams(
        *(bindparam(n, type_=Uuid() if n == "depot" else BigInteger()) for n in names)
    )
