"""A depot's equipment: power sources, gateways, devices and their sensor actions."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON

from domain import model
from resolvers import equipment
from schema.common import Ctx, gid, gid_or_none
from schema.enums import BessOperationalMode, PowerSourceKind, SensorActionType


@strawberry.type
class PowerSource:
    id: strawberry.ID
    depot_id: strawberry.ID
    circuit_id: strawberry.ID | None
    kind: PowerSourceKind
    name: str
    power_state: str | None = strawberry.field(
        description="DEVICE_POWER_STATE as reported: on / off."
    )
    operational_mode: BessOperationalMode | None
    soc_percent: float | None
    load_w: float | None
    updated_at: datetime | None

    @classmethod
    def from_domain(cls, p: model.PowerSource) -> PowerSource:
        return cls(
            id=gid(p.id),
            depot_id=gid(p.depot_id),
            circuit_id=gid_or_none(p.circuit_id),
            kind=p.kind,
            name=p.name,
            power_state=p.power_state,
            operational_mode=p.operational_mode,
            soc_percent=p.soc_percent,
            load_w=p.load_w,
            updated_at=p.updated_at,
        )


@strawberry.type
class Gateway:
    id: strawberry.ID
    depot_id: strawberry.ID
    name: str
    site_model_name: str | None
    output_translation: JSON | None = strawberry.field(
        description="Legacy compatibility mapping, used only as the last power-source routing rule."
    )

    @classmethod
    def from_domain(cls, g: model.Gateway) -> Gateway:
        return cls(
            id=gid(g.id),
            depot_id=gid(g.depot_id),
            name=g.name,
            site_model_name=g.site_model_name,
            output_translation=cast(JSON, g.output_translation),
        )


@strawberry.type
class SensorAction:
    id: strawberry.ID
    device_id: strawberry.ID
    type: SensorActionType
    enabled: bool
    controller_binding_id: strawberry.ID | None = strawberry.field(
        description="For UPDATE_MICROGRID_STATE: the controller binding this action is."
    )

    @classmethod
    def from_domain(cls, a: model.SensorAction) -> SensorAction:
        return cls(
            id=gid(a.id),
            device_id=gid(a.device_id),
            type=a.type,
            enabled=a.enabled,
            controller_binding_id=gid(a.id) if a.is_binding else None,
        )


@strawberry.type
class Device:
    id: strawberry.ID
    depot_id: strawberry.ID
    gateway_id: strawberry.ID | None
    circuit_id: strawberry.ID | None = strawberry.field(
        description="The circuit this device is wired to, if any."
    )
    name: str
    _id: strawberry.Private[UUID]

    @strawberry.field
    async def sensor_actions(self, info: Ctx) -> list[SensorAction]:
        actions = await equipment.sensor_actions(info.context, self._id)
        return [SensorAction.from_domain(a) for a in actions]

    @classmethod
    def from_domain(cls, d: model.Device) -> Device:
        return cls(
            id=gid(d.id),
            depot_id=gid(d.depot_id),
            gateway_id=gid_or_none(d.gateway_id),
            circuit_id=gid_or_none(d.circuit_id),
            name=d.name,
            _id=d.id,
        )
