"""The Circuit type: a depot's circuit with its controller-reported capacity."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import model
from resolvers import circuits
from schema.common import Ctx, gid, gid_or_none
from schema.enums import CapacitySource, HeartbeatStatus


@strawberry.type
class Circuit:
    id: strawberry.ID
    depot_id: strawberry.ID
    name: str
    parent_id: strawberry.ID | None = strawberry.field(description="Null for a top-level circuit.")
    is_top_level: bool
    position: int = strawberry.field(
        description="Display order among siblings; grid connections follow it."
    )
    safe_capacity_w: float | None = strawberry.field(
        description="Configured default/safe operating capacity in watts."
    )
    available_capacity_w: float | None = strawberry.field(
        description="Latest AVAILABLE_CHARGING_CAPACITY reported by a controller, in watts."
    )
    fail_safe_capacity_w: float | None = strawberry.field(
        description="Latest FAIL_SAFE_CAPACITY reported by a controller, in watts."
    )
    heartbeat_status: HeartbeatStatus | None
    capacity_updated_at: datetime | None
    _domain: strawberry.Private[model.Circuit]

    @classmethod
    def from_domain(cls, c: model.Circuit) -> Circuit:
        return cls(
            id=gid(c.id),
            depot_id=gid(c.depot_id),
            name=c.name,
            parent_id=gid_or_none(c.parent_id),
            is_top_level=c.is_top_level,
            position=c.position,
            safe_capacity_w=c.safe_capacity_w,
            available_capacity_w=c.available_capacity_w,
            fail_safe_capacity_w=c.fail_safe_capacity_w,
            heartbeat_status=HeartbeatStatus(c.heartbeat_status) if c.heartbeat_status else None,
            capacity_updated_at=c.capacity_updated_at,
            _domain=c,
        )

    @strawberry.field(
        description="The capacity load management must use now, and where it came from."
    )
    def effective_capacity_w(self, info: Ctx) -> float | None:
        return circuits.capacity_now(info.context, self._domain).watts

    @strawberry.field
    def capacity_source(self, info: Ctx) -> CapacitySource | None:
        return circuits.capacity_now(info.context, self._domain).source

    @strawberry.field
    async def children(self, info: Ctx) -> list[Circuit]:
        return [Circuit.from_domain(c) for c in await circuits.children(info.context, self._domain)]
