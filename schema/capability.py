"""Capability status: the status a microgrid shows per capability, with its
freshness, and the events that recorded it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import reads
from domain.capability import StatusEvent, StatusView
from schema.common import PageInfo, gid, gid_or_none
from schema.enums import CapabilityType, Freshness, OperationalStatus


@strawberry.type
class CapabilityStatus:
    capability: CapabilityType
    status: OperationalStatus
    observed_at: datetime | None = strawberry.field(
        description="Source timestamp of the record that drives status."
    )
    received_at: datetime | None
    age_seconds: float | None = strawberry.field(
        description="Seconds between observedAt and when this value was produced."
    )
    freshness: Freshness
    stale_after_seconds: int
    stale_at: datetime | None
    provider_event_ref: str | None
    source_device_id: strawberry.ID | None
    event_id: strawberry.ID | None

    @classmethod
    def from_domain(cls, v: StatusView) -> CapabilityStatus:
        return cls(
            capability=v.capability,
            status=v.status,
            observed_at=v.observed_at,
            received_at=v.received_at,
            age_seconds=v.age_seconds,
            freshness=v.freshness,
            stale_after_seconds=v.stale_after_seconds,
            stale_at=v.stale_at,
            provider_event_ref=v.provider_event_ref,
            source_device_id=gid_or_none(v.source_device_id),
            event_id=gid_or_none(v.event_id),
        )


@strawberry.type
class CapabilityStatusEvent:
    id: strawberry.ID
    microgrid_id: strawberry.ID
    capability: CapabilityType
    value: bool
    status: OperationalStatus
    observed_at: datetime
    received_at: datetime
    provider_event_ref: str
    source_device_id: strawberry.ID | None
    sequence: int = strawberry.field(description="Per-microgrid append order, starting at 1.")
    applied_to_latest: bool = strawberry.field(
        description="False when an older observation arrived after a newer one."
    )

    @classmethod
    def from_domain(cls, e: StatusEvent) -> CapabilityStatusEvent:
        o = e.observation
        return cls(
            id=gid(e.id),
            microgrid_id=gid(o.microgrid_id),
            capability=o.capability,
            value=o.value,
            status=e.status,
            observed_at=o.observed_at,
            received_at=e.received_at,
            provider_event_ref=o.provider_event_ref,
            source_device_id=gid_or_none(o.source_device_id),
            sequence=e.sequence,
            applied_to_latest=e.applied_to_latest,
        )


@strawberry.type
class CapabilityStatusEventEdge:
    cursor: str
    node: CapabilityStatusEvent


@strawberry.type
class CapabilityStatusEventConnection:
    edges: list[CapabilityStatusEventEdge]
    page_info: PageInfo

    @classmethod
    def from_domain(cls, page: reads.HistoryPage) -> CapabilityStatusEventConnection:
        edges = [
            CapabilityStatusEventEdge(
                cursor=reads.encode_sequence(e.sequence), node=CapabilityStatusEvent.from_domain(e)
            )
            for e in page.events
        ]
        return cls(edges=edges, page_info=PageInfo.of_edges(edges, page.has_next_page))
