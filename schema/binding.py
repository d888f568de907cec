"""The ControllerBinding type: a device's UPDATE_MICROGRID_STATE action seen
from the microgrid it feeds."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import strawberry

from domain import model
from resolvers import bindings
from schema.common import Ctx, gid
from schema.enums import CapabilityType
from schema.equipment import Device


@strawberry.type(
    description="Which device feeds which capabilities of a microgrid. It is the "
    "device's UPDATE_MICROGRID_STATE sensor action (same id), seen from the microgrid."
)
class ControllerBinding:
    id: strawberry.ID
    microgrid_id: strawberry.ID
    device_id: strawberry.ID
    capabilities: list[CapabilityType]
    enabled: bool
    stale_after_seconds: int
    created_at: datetime
    updated_at: datetime
    last_reported_at: datetime | None = strawberry.field(
        description="observedAt of the newest status this binding delivered."
    )
    _device_id: strawberry.Private[UUID]

    @classmethod
    def from_domain(cls, a: model.SensorAction) -> ControllerBinding:
        assert a.microgrid_id is not None
        return cls(
            id=gid(a.id),
            microgrid_id=gid(a.microgrid_id),
            device_id=gid(a.device_id),
            capabilities=list(a.capabilities or []),
            enabled=a.enabled,
            stale_after_seconds=a.stale_after_seconds or 0,
            created_at=a.created_at,
            updated_at=a.updated_at,
            last_reported_at=a.last_reported_at,
            _device_id=a.device_id,
        )

    @strawberry.field
    async def device(self, info: Ctx) -> Device:
        return Device.from_domain(await bindings.bound_device(info.context, self._device_id))
