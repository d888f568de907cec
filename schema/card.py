"""The Microgrid card operators watch, and the update a card subscription sends."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain.card import Card
from schema.capability import CapabilityStatus
from schema.common import gid
from schema.enums import ChangeReason
from schema.equipment import PowerSource
from schema.microgrid import GridConnection


@strawberry.type
class MicrogridCard:
    microgrid_id: strawberry.ID
    depot_id: strawberry.ID
    depot_name: str
    microgrid_version: int
    peak_shaving: CapabilityStatus
    der: CapabilityStatus
    capabilities: list[CapabilityStatus] = strawberry.field(
        description="One status per CapabilityType, in the enum's order."
    )
    grid_connections: list[GridConnection]
    power_sources: list[PowerSource] = strawberry.field(
        description="Empty for a depot with no local power source."
    )
    revision: int = strawberry.field(
        description="Monotonic per microgrid: a client that sees a gap refetches."
    )
    generated_at: datetime

    @classmethod
    def from_domain(cls, card: Card) -> MicrogridCard:
        m = card.microgrid
        return cls(
            microgrid_id=gid(m.id),
            depot_id=gid(m.depot_id),
            depot_name=card.depot.name,
            microgrid_version=m.version,
            peak_shaving=CapabilityStatus.from_domain(card.peak_shaving),
            der=CapabilityStatus.from_domain(card.der),
            capabilities=[CapabilityStatus.from_domain(s) for s in card.statuses.values()],
            grid_connections=GridConnection.all_of(m),
            power_sources=[PowerSource.from_domain(p) for p in card.power_sources],
            revision=card.revision,
            generated_at=card.generated_at,
        )


@strawberry.type
class MicrogridCardUpdate:
    reason: ChangeReason
    card: MicrogridCard

    @classmethod
    def from_domain(cls, reason: ChangeReason, card: Card) -> MicrogridCardUpdate:
        return cls(reason=reason, card=MicrogridCard.from_domain(card))
