"""The load page's chart: bucketed readings per power source and circuit, with
the capability and capacity-source overlays, read in one short transaction
whose statement count does not depend on the range or the number of points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from domain import chart_intervals
from domain.access import Scope
from domain.chart_intervals import CapabilityInterval, CapacitySourceInterval, StatusRun
from domain.model import Circuit, PowerSource
from domain.plausible.instants import EARLIEST, READ_CEILING
from domain.ports import Dependencies
from domain.problems import FieldError, NotFound, ValidationFailed
from domain.readings import CIRCUIT_KINDS, POWER_SOURCE_KINDS, Bucket, ReadingKind
from domain.stale_thresholds import thresholds

MIN_POINTS = 10
MAX_POINTS = 5_000
MAX_RANGE = timedelta(days=31)
WIDTHS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400)
"""Bucket widths in seconds, the narrowest that fits is used (then whole days).
Each divides a day, so buckets line up with clock times and stay put as a live
chart's range moves; from a minute on they are whole minutes, from 15 minutes
whole quarter hours, which the PostgreSQL store's rollups serve (persistence/
reading_rollups.py)."""
_US = 1_000_000
_DAY = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

UNITS = {
    ReadingKind.POWER_SOURCE_LOAD_W: "W",
    ReadingKind.POWER_SOURCE_SOC_PERCENT: "%",
    ReadingKind.CIRCUIT_AVAILABLE_CAPACITY_W: "W",
    ReadingKind.CIRCUIT_FAIL_SAFE_CAPACITY_W: "W",
    ReadingKind.CIRCUIT_EFFECTIVE_CAPACITY_W: "W",
}


class Point(NamedTuple):
    """One bucket; every value is None when it holds no reading. (A tuple: a
    chart holds tens of thousands, and a tuple is the cheapest to make.)"""

    at: datetime
    min: float | None
    avg: float | None
    max: float | None
    last: float | None


@dataclass(frozen=True, slots=True)
class Series:
    kind: ReadingKind
    subject_id: UUID
    name: str
    unit: str
    points: Sequence[Point]


@dataclass(frozen=True, slots=True)
class LoadChart:
    depot_id: UUID
    start: datetime
    end: datetime
    bucket_seconds: int
    series: list[Series]
    capability_intervals: list[CapabilityInterval]
    capacity_source_intervals: list[CapacitySourceInterval]


@dataclass(frozen=True, slots=True)
class ChartRange:
    """``[start, end)`` cut at the multiples of ``bucket_seconds`` since the Unix
    epoch: bucket 0 is the one holding ``start`` and ``buckets`` counts up to
    the one holding the range's last instant."""

    start: datetime
    end: datetime
    bucket_seconds: int
    buckets: int

    def bucket_start(self, index: int) -> datetime:
        """Where bucket ``index`` starts within the range (the first may start
        at ``start``, after its grid line)."""
        grid = _EPOCH + timedelta(
            seconds=(first_bucket(self.start, self.bucket_seconds) + index) * self.bucket_seconds
        )
        return max(grid, self.start)


async def load_chart(
    deps: Dependencies,
    scope: Scope,
    depot_id: UUID | None,
    start: datetime,
    end: datetime,
    max_points: int,
) -> LoadChart | NotFound | ValidationFailed:
    """The chart of ``[start, end)`` in at most ``max_points`` buckets per series."""
    chart_range = check_range(start, end, max_points)
    if isinstance(chart_range, ValidationFailed):
        return chart_range
    if depot_id is None or not scope.allows(depot_id):
        return NotFound("Depot", str(depot_id) if depot_id else None)
    s, e, width = chart_range.start, chart_range.end, chart_range.bucket_seconds
    async with deps.uow(write=False) as uow:
        if await uow.depots.get(depot_id) is None:
            return NotFound("Depot", str(depot_id))
        circuits = await uow.circuits.for_depot(depot_id)
        sources = (await uow.equipment.power_sources([depot_id])).get(depot_id, [])
        microgrid = await uow.microgrids.for_depot(depot_id)
        runs: list[StatusRun] = []
        stale_after = thresholds([], deps.stale_after_seconds)
        if microgrid is not None:
            bindings = (await uow.sensor_actions.bindings_for_microgrids([microgrid.id])).get(
                microgrid.id, []
            )
            stale_after = thresholds(bindings, deps.stale_after_seconds)
            runs = await uow.events.status_changes(microgrid.id, s, e, stale_after)
        buckets = await uow.readings.buckets(depot_id, s, e, width)
        capacity = await uow.readings.capacity_runs(depot_id, s, e, deps.stale_after_seconds)
    now = deps.clock.now()
    return LoadChart(
        depot_id=depot_id,
        start=s,
        end=e,
        bucket_seconds=width,
        series=series_of(chart_range, sources, circuits, buckets),
        capability_intervals=(
            chart_intervals.capability_intervals(runs, stale_after, s, e, now)
            if microgrid is not None
            else []
        ),
        capacity_source_intervals=chart_intervals.capacity_source_intervals(
            capacity, circuits, s, e, now, deps.stale_after_seconds
        ),
    )


def check_range(start: datetime, end: datetime, max_points: int) -> ChartRange | ValidationFailed:
    """The range in UTC with its bucket width, or every field error."""
    errors: list[FieldError] = []
    s = _instant(start, "from", errors)
    e = _instant(end, "to", errors)
    if s is not None and e is not None:
        if e <= s:
            errors.append(FieldError("to", "NOT_AFTER_FROM", "`to` must be after `from`."))
        elif e - s > MAX_RANGE:
            errors.append(FieldError("to", "RANGE_TOO_LONG", "The range may span at most 31 days."))
    if type(max_points) is not int or not MIN_POINTS <= max_points <= MAX_POINTS:
        errors.append(
            FieldError(
                "maxPoints",
                "OUT_OF_RANGE",
                f"maxPoints must be between {MIN_POINTS} and {MAX_POINTS:,}.",
            )
        )
    if errors or s is None or e is None:
        return ValidationFailed(tuple(errors))
    width = bucket_seconds(s, e, max_points)
    return ChartRange(s, e, width, bucket_count(s, e, width))


def bucket_seconds(start: datetime, end: datetime, max_points: int) -> int:
    """The first width of :data:`WIDTHS` (then whole days) whose grid cuts
    ``[start, end)`` into at most ``max_points`` buckets."""
    for width in WIDTHS:
        if bucket_count(start, end, width) <= max_points:
            return width
    days = _ceil_div(_micros(end - start), max_points * _DAY * _US)
    while bucket_count(start, end, days * _DAY) > max_points:
        days += 1
    return days * _DAY


def bucket_count(start: datetime, end: datetime, width: int) -> int:
    """How many grid buckets of ``width`` seconds ``[start, end)`` touches."""
    last = (_micros(end - _EPOCH) - 1) // (width * _US)
    return last - first_bucket(start, width) + 1


def first_bucket(start: datetime, width: int) -> int:
    """The grid index (buckets of ``width`` seconds since the epoch) holding ``start``."""
    return _micros(start - _EPOCH) // (width * _US)


def series_of(
    chart_range: ChartRange,
    sources: Sequence[PowerSource],
    circuits: Sequence[Circuit],
    buckets: Sequence[Bucket],
) -> list[Series]:
    """One series per (subject, kind), subjects ordered by (name, id), power
    sources first; every bucket present, empty ones all None."""
    found: dict[tuple[UUID, ReadingKind], dict[int, Bucket]] = {}
    for b in buckets:
        if 0 <= b.index < chart_range.buckets:
            found.setdefault((b.subject_id, b.kind), {})[b.index] = b
    empty = tuple(
        Point(chart_range.bucket_start(i), None, None, None, None)
        for i in range(chart_range.buckets)
    )
    subjects: list[tuple[UUID, str, tuple[ReadingKind, ...]]] = [
        *((p.id, p.name, POWER_SOURCE_KINDS) for p in sorted(sources, key=_name_order)),
        *((c.id, c.name, CIRCUIT_KINDS) for c in sorted(circuits, key=_name_order)),
    ]
    return [
        Series(kind, subject_id, name, UNITS[kind], _points(empty, found.get((subject_id, kind))))
        for subject_id, name, kinds in subjects
        for kind in kinds
    ]


def _points(empty: tuple[Point, ...], found: dict[int, Bucket] | None) -> Sequence[Point]:
    """The empty points (shared: they are immutable) with the found buckets filled in."""
    if not found:
        return empty
    points = list(empty)
    for i, b in found.items():
        points[i] = Point(empty[i].at, b.min, b.avg, b.max, b.last)
    return points


def _name_order(row: PowerSource | Circuit) -> tuple[str, str]:
    return row.name, str(row.id)


def _instant(value: datetime, path: str, errors: list[FieldError]) -> datetime | None:
    if value.tzinfo is None or value.utcoffset() is None:
        errors.append(
            FieldError(path, "TIMEZONE_REQUIRED", "The timestamp must carry a UTC offset.")
        )
        return None
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= READ_CEILING:
        errors.append(
            FieldError(
                path,
                "OUT_OF_RANGE",
                "The timestamp must lie between 2000-01-01T00:00:00Z and 9999-01-01T00:00:00Z.",
            )
        )
        return None
    return utc


def _micros(span: timedelta) -> int:
    return (span.days * 86_400 + span.seconds) * _US + span.microseconds


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
