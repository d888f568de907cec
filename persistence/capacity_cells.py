"""PostgreSQL: capacity runs read from 15-minute cells instead of every report.

``capacity_cells`` (migration 0010, kept by a trigger on ``capacity_reports``)
holds per circuit and :data:`CELL` the source classes and the minutes its
reports fall in, and its first and last report in (observed_us, seq) order.

A cell is *simple* when its reports have one source class and, for
available capacity (class 0), its minutes with a report are contiguous: two
consecutive reports are then less than two minutes apart, so with
``stale_after`` of at least :data:`MIN_STALE_S` none of them begins or ends a
run except possibly its first (against the report before the cell) and its
last (against the one after). A simple cell stands in for its reports by its
first and last, the last marked ``joined`` (it continues the row before it
whatever the gap); any other cell, and the partial cells at the ends of the
range, give their reports. Over that shorter chain the flags are
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
_RANGE = "depot_id = :depot AND observed_us >= {low} AND observed_us < {high}"
_SIMPLE = (
    "(c.classes & (c.classes - 1)) = 0 AND (c.classes <> 1"
    " OR ((c.minutes / (c.minutes & -c.minutes)) & (c.minutes / (c.minutes & -c.minutes) + 1)) = 0)"
)


def _end(end: str, joined: bool) -> str:
    return (
        f"SELECT c.depot_id, c.circuit_id, c.{end}_us, c.{end}_seq, c.{end}_available_w,"
        f" c.{end}_fail_safe_w, c.{end}_heartbeat, {str(joined).lower()}"
        f" FROM cells c WHERE {_SIMPLE}"
    )


def full_cells(start_us: int, end_us: int) -> tuple[int, int]:
    """``[from, to)``: the cells wholly inside ``[start_us, end_us)``, or
    ``(end_us, end_us)`` when there is none (the range is then read raw)."""
    low = -(-start_us // CELL_US) * CELL_US
    high = end_us // CELL_US * CELL_US
    return (low, high) if low < high else (end_us, end_us)


def runs_from_cells(circuits_before: str, seeds: str, source_class: str) -> TextClause:
    """The cells statement, from ``RUNS``' parts: ``circuits_before`` (the
    ``WITH RECURSIVE before`` clause), ``seeds`` (each circuit's newest report
    before ``:start``) and ``source_class`` (the class of a report's columns).
    Parameters: ``RUNS``' and ``:cells_from``, ``:cells_to`` (:func:`full_cells`)."""
    columns = ", ".join(f"r.{c}" for c in _REPORT.split(", "))
    chain = " UNION ALL ".join(
        [
            f"SELECT {_REPORT}, false FROM ({seeds}) s",
            f"SELECT {_REPORT}, false FROM capacity_reports WHERE "
            + _RANGE.format(low=":start", high=":cells_from"),
            f"SELECT {_REPORT}, false FROM capacity_reports WHERE "
            + _RANGE.format(low=":cells_to", high=":end"),
            f"SELECT {columns}, false FROM cells c JOIN capacity_reports r"
            " ON r.depot_id = :depot AND r.circuit_id = c.circuit_id"
            f" AND r.observed_us >= c.cell_us AND r.observed_us < c.cell_us + {CELL_US}"
            f" WHERE NOT ({_SIMPLE})",
            _end("first", False),
            _end("last", True) + " AND c.last_seq <> c.first_seq",
        ]
    )
    sql = (
        circuits_before
        + ", cells AS (SELECT * FROM capacity_cells WHERE depot_id = :depot"
        + " AND cell_us >= :cells_from AND cell_us < :cells_to),"
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
    names = ("depot", "start", "end", "stale", "cells_from", "cells_to")
    return text(sql).bindparams(
        *(bindparam(n, type_=Uuid() if n == "depot" else BigInteger()) for n in names)
    )
