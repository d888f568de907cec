"""Load-chart readings: the values packet ingest applied, kept over time.

A reading is written in the same transaction as the state it updates (a power
source's load or SOC, a circuit's capacity report). The chart reads them back
bucketed; capacity reports also carry what the capacity-source intervals need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class ReadingKind(StrEnum):
    """What one reading measures; the names are the contract's LoadSeriesKind."""

    POWER_SOURCE_LOAD_W = "POWER_SOURCE_LOAD_W"
    POWER_SOURCE_SOC_PERCENT = "POWER_SOURCE_SOC_PERCENT"
    CIRCUIT_AVAILABLE_CAPACITY_W = "CIRCUIT_AVAILABLE_CAPACITY_W"
    CIRCUIT_FAIL_SAFE_CAPACITY_W = "CIRCUIT_FAIL_SAFE_CAPACITY_W"
    CIRCUIT_EFFECTIVE_CAPACITY_W = "CIRCUIT_EFFECTIVE_CAPACITY_W"


POWER_SOURCE_KINDS = (ReadingKind.POWER_SOURCE_LOAD_W, ReadingKind.POWER_SOURCE_SOC_PERCENT)
CIRCUIT_KINDS = (
    ReadingKind.CIRCUIT_AVAILABLE_CAPACITY_W,
    ReadingKind.CIRCUIT_FAIL_SAFE_CAPACITY_W,
    ReadingKind.CIRCUIT_EFFECTIVE_CAPACITY_W,
)


@dataclass(frozen=True, slots=True)
class Reading:
    depot_id: UUID
    subject_id: UUID
    """The power source or circuit."""
    kind: ReadingKind
    observed_at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class CapacityReport:
    """One applied capacity report of a circuit, as the circuit held it after
    the report (the fail-safe value persists across reports that omit it)."""

    depot_id: UUID
    circuit_id: UUID
    observed_at: datetime
    available_w: float | None
    fail_safe_w: float | None
    heartbeat: str | None


@dataclass(frozen=True, slots=True)
class CapacityRun:
    """Consecutive reports of one circuit (in (observedAt, write) order) with
    one source class, each observed before the previous one went stale
    (``domain.chart_intervals.capacity_runs``): the chart needs only ``first``
    (where the run begins) and ``last`` (when it goes stale, and what follows)."""

    first: CapacityReport
    last: CapacityReport

    @property
    def circuit_id(self) -> UUID:
        return self.first.circuit_id


@dataclass(frozen=True, slots=True)
class Bucket:
    """The readings of one series that fall in one bucket: ``index`` counts
    grid buckets of the requested width from the one holding the range's start
    (``Readings.buckets``)."""

    subject_id: UUID
    kind: ReadingKind
    index: int
    min: float
    avg: float
    max: float
    last: float
    """The value of the newest reading (ties: the one written last)."""
