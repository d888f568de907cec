"""The load page's chart: bucketed series and the capability and capacity-source
overlays (contract/planned/11-load-page.graphql)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry

from domain import chart_intervals
from domain import load_chart as domain
from domain.readings import ReadingKind
from schema.common import gid
from schema.enums import CapabilityType, CapacitySource, Freshness, OperationalStatus
from schema.problems import NotFound, ValidationFailed

strawberry.enum(ReadingKind, name="LoadSeriesKind")


@strawberry.type(
    description=(
        "One bucket of readings; every value is null when the bucket holds no reading "
        "(gaps are never interpolated)."
    )
)
class LoadPoint:
    at: datetime = strawberry.field(description="Start of the bucket.")
    min: float | None
    avg: float | None
    max: float | None
    last: float | None = strawberry.field(description="The newest reading in the bucket.")


PLAIN_RECORDS = {"LoadPoint": {name: name for name in ("at", "min", "avg", "max", "last")}}
"""Types the executor completes a list of in one pass: each field is the
attribute of its name (tests/api/test_load_chart_api.py checks they stay plain)."""


@strawberry.type
class LoadSeries:
    kind: ReadingKind
    subject_id: strawberry.ID = strawberry.field(
        description="The power source or circuit the series belongs to."
    )
    name: str
    unit: str = strawberry.field(description="SI unit: W or %.")
    points: list[LoadPoint]

    @classmethod
    def from_domain(cls, series: domain.Series) -> LoadSeries:
        return cls(
            kind=series.kind,
            subject_id=gid(series.subject_id),
            name=series.name,
            unit=series.unit,
            # The domain's points as they are: LoadPoint's fields are their
            # attributes of the same names (a chart holds tens of thousands;
            # copying them cost more than completing them).
            points=cast(list[LoadPoint], series.points),
        )


@strawberry.type(
    description="A span during which a capability showed one status with one freshness."
)
class CapabilityInterval:
    capability: CapabilityType
    status: OperationalStatus
    freshness: Freshness
    from_: datetime = strawberry.field(name="from")
    to: datetime | None = strawberry.field(description="Null while the interval is still open.")

    @classmethod
    def from_domain(cls, interval: chart_intervals.CapabilityInterval) -> CapabilityInterval:
        return cls(
            capability=interval.capability,
            status=interval.status,
            freshness=interval.freshness,
            from_=interval.start,
            to=interval.end,
        )


@strawberry.type(
    description="A span during which a circuit's effective capacity came from one source."
)
class CapacitySourceInterval:
    circuit_id: strawberry.ID
    source: CapacitySource
    from_: datetime = strawberry.field(name="from")
    to: datetime | None

    @classmethod
    def from_domain(
        cls, interval: chart_intervals.CapacitySourceInterval
    ) -> CapacitySourceInterval:
        return cls(
            circuit_id=gid(interval.circuit_id),
            source=interval.source,
            from_=interval.start,
            to=interval.end,
        )


@strawberry.type
class LoadChart:
    depot_id: strawberry.ID
    from_: datetime = strawberry.field(name="from")
    to: datetime
    bucket_seconds: int
    series: list[LoadSeries]
    capability_intervals: list[CapabilityInterval]
    capacity_source_intervals: list[CapacitySourceInterval]

    @classmethod
    def from_domain(cls, chart: domain.LoadChart) -> LoadChart:
        return cls(
            depot_id=gid(chart.depot_id),
            from_=chart.start,
            to=chart.end,
            bucket_seconds=chart.bucket_seconds,
            series=[LoadSeries.from_domain(s) for s in chart.series],
            capability_intervals=[
                CapabilityInterval.from_domain(i) for i in chart.capability_intervals
            ],
            capacity_source_intervals=[
                CapacitySourceInterval.from_domain(i) for i in chart.capacity_source_intervals
            ],
        )


LoadChartResult = Annotated[
    LoadChart | NotFound | ValidationFailed, strawberry.union("LoadChartResult")
]
