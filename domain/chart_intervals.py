"""The load chart's overlays: when each capability showed which status with
which freshness, and where each circuit's effective capacity came from.

PLACEHOLDER (branch i15-intervals replaces the bodies): the signatures and
result types are the interface the load-chart use case calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.capability import CapabilityType, Freshness, OperationalStatus, StatusEvent
from domain.capacity import CapacitySource
from domain.model import Circuit
from domain.readings import CapacityReport


@dataclass(frozen=True, slots=True)
class CapabilityInterval:
    capability: CapabilityType
    status: OperationalStatus
    freshness: Freshness
    start: datetime
    end: datetime | None
    """None while the interval is still open (it holds at ``now``)."""


@dataclass(frozen=True, slots=True)
class CapacitySourceInterval:
    circuit_id: UUID
    source: CapacitySource
    start: datetime
    end: datetime | None


def capability_intervals(
    events: Sequence[StatusEvent],
    stale_after: Mapping[CapabilityType, int],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[CapabilityInterval]:
    """``events`` as ``CapabilityEvents.observed_between`` returns them."""
    return []


def capacity_source_intervals(
    reports: Sequence[CapacityReport],
    circuits: Sequence[Circuit],
    start: datetime,
    end: datetime,
    now: datetime,
    stale_after_seconds: int,
) -> list[CapacitySourceInterval]:
    """``reports`` as ``Readings.capacity_reports`` returns them; ``circuits``
    are the depot's circuits today (their configured safe capacity)."""
    return []
