"""Capability status: observations, the latest-status rule and freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID


class CapabilityType(StrEnum):
    PEAK_SHAVING = "PEAK_SHAVING"
    DER = "DER"


class OperationalStatus(StrEnum):
    ON = "ON"
    OFF = "OFF"
    UNKNOWN = "UNKNOWN"


class Freshness(StrEnum):
    FRESH = "FRESH"
    STALE = "STALE"
    NEVER_REPORTED = "NEVER_REPORTED"


def status_of(value: bool) -> OperationalStatus:
    return OperationalStatus.ON if value else OperationalStatus.OFF


@dataclass(frozen=True)
class Observation:
    """What a provider reports; the content that idempotency compares."""

    microgrid_id: UUID
    capability: CapabilityType
    value: bool
    observed_at: datetime
    provider_event_ref: str
    source_device_id: UUID | None = None

    @property
    def idempotency_key(self) -> str:
        return f"{self.capability.value}:{self.provider_event_ref}"

    def same_content(self, other: Observation) -> bool:
        return (self.capability, self.value, self.observed_at, self.source_device_id) == (
            other.capability,
            other.value,
            other.observed_at,
            other.source_device_id,
        )


@dataclass(frozen=True)
class StatusEvent:
    """An accepted observation as appended to the microgrid's stream."""

    id: UUID
    observation: Observation
    received_at: datetime
    sequence: int
    applied_to_latest: bool

    @property
    def status(self) -> OperationalStatus:
        return status_of(self.observation.value)

    @property
    def order_key(self) -> tuple[datetime, int]:
        """The latest is the newest observedAt; ties go to the higher sequence."""
        return (self.observation.observed_at, self.sequence)


def supersedes(candidate: StatusEvent, current: StatusEvent | None) -> bool:
    return current is None or candidate.order_key > current.order_key


def latest_of(events: list[StatusEvent]) -> dict[CapabilityType, StatusEvent]:
    """The latest event per capability, as the projection must hold it."""
    latest: dict[CapabilityType, StatusEvent] = {}
    for event in events:
        capability = event.observation.capability
        if supersedes(event, latest.get(capability)):
            latest[capability] = event
    return latest


@dataclass(frozen=True)
class StatusView:
    """What operators see for one capability; every time field from one record."""

    capability: CapabilityType
    status: OperationalStatus
    freshness: Freshness
    stale_after_seconds: int
    observed_at: datetime | None = None
    received_at: datetime | None = None
    age_seconds: float | None = None
    stale_at: datetime | None = None
    provider_event_ref: str | None = None
    source_device_id: UUID | None = None
    event_id: UUID | None = None


def view(
    capability: CapabilityType, latest: StatusEvent | None, now: datetime, stale_after_seconds: int
) -> StatusView:
    if latest is None:
        return StatusView(
            capability, OperationalStatus.UNKNOWN, Freshness.NEVER_REPORTED, stale_after_seconds
        )
    observed = latest.observation.observed_at
    stale_at = observed + timedelta(seconds=stale_after_seconds)
    return StatusView(
        capability=capability,
        status=latest.status,
        freshness=Freshness.FRESH if now < stale_at else Freshness.STALE,
        stale_after_seconds=stale_after_seconds,
        observed_at=observed,
        received_at=latest.received_at,
        age_seconds=(now - observed).total_seconds(),
        stale_at=stale_at,
        provider_event_ref=latest.observation.provider_event_ref,
        source_device_id=latest.observation.source_device_id,
        event_id=latest.id,
    )


def next_freshness_change(views: list[StatusView], now: datetime) -> datetime | None:
    """When the next FRESH status turns STALE, if any will."""
    upcoming = [
        v.stale_at
        for v in views
        if v.freshness is Freshness.FRESH and v.stale_at is not None and v.stale_at > now
    ]
    return min(upcoming, default=None)
