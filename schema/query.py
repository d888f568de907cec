"""The Query root: each field calls its resolver and maps the domain result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry

from domain.access import Principal
from resolvers import audit, bindings, card, depots, equipment, flags, packets, viewer
from resolvers import load_chart as load_chart_cases
from resolvers import microgrid as microgrid_cases
from schema import results as r
from schema.access import RoleAllowed
from schema.audit import AuditEntryConnection
from schema.binding import ControllerBinding
from schema.card import MicrogridCard
from schema.common import Ctx
from schema.depot import Depot, DepotConnection
from schema.equipment import Device
from schema.flags import FeatureFlag
from schema.load_chart import LoadChart, LoadChartResult
from schema.microgrid import Microgrid
from schema.packets import SensorPacketConnection
from schema.problems import present
from schema.root_results import RootResult


def guarded(resolver: Callable[..., Any], description: str | None = None) -> Any:
    return strawberry.field(
        resolver=resolver,
        permission_classes=[RoleAllowed],
        description=description,
        extensions=[RootResult()],
    )


@strawberry.type(
    description="Who the request's token belongs to, so a client can decide what to show."
)
class Viewer:
    role: str
    depot_ids: list[strawberry.ID] | None = strawberry.field(
        description="The depots the token is limited to; null when it sees every depot."
    )

    @classmethod
    def from_domain(cls, principal: Principal) -> Viewer:
        ids = principal.scope.depot_ids
        return cls(
            role=principal.role.value,
            depot_ids=None if ids is None else sorted(strawberry.ID(str(i)) for i in ids),
        )


def _viewer(info: Ctx) -> Viewer:
    return Viewer.from_domain(viewer.viewer(info.context))


async def _audit_trail(
    info: Ctx, first: int = 50, after: str | None = None
) -> AuditEntryConnection:
    return AuditEntryConnection.from_domain(await audit.audit_trail(info.context, first, after))


async def _depot(info: Ctx, id: strawberry.ID) -> Depot | None:
    found = await depots.depot(info.context, id)
    return Depot.from_domain(found) if found else None


async def _depots(info: Ctx, first: int = 50, after: str | None = None) -> DepotConnection:
    return DepotConnection.from_domain(await depots.depots(info.context, first, after))


async def _microgrid(info: Ctx, id: strawberry.ID) -> r.MicrogridResult:
    return present(await microgrid_cases.microgrid(info.context, id), Microgrid.from_domain)


async def _microgrid_by_depot(info: Ctx, depot_id: strawberry.ID) -> r.MicrogridResult:
    found = await microgrid_cases.microgrid_by_depot(info.context, depot_id)
    return present(found, Microgrid.from_domain)


async def _microgrid_card(info: Ctx, depot_id: strawberry.ID) -> r.MicrogridCardResult:
    return present(await card.microgrid_card(info.context, depot_id), MicrogridCard.from_domain)


async def _controller_binding(info: Ctx, id: strawberry.ID) -> ControllerBinding | None:
    found = await bindings.controller_binding(info.context, id)
    return ControllerBinding.from_domain(found) if found else None


async def _device(info: Ctx, id: strawberry.ID) -> Device | None:
    found = await equipment.device(info.context, id)
    return Device.from_domain(found) if found else None


async def _sensor_packets(
    info: Ctx, device_id: strawberry.ID, first: int = 50, after: str | None = None
) -> SensorPacketConnection:
    page = await packets.sensor_packets(info.context, device_id, first, after)
    return SensorPacketConnection.from_domain(page)


async def _load_chart(
    info: Ctx,
    depot_id: strawberry.ID,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    max_points: int = 1000,
) -> LoadChartResult:
    found = await load_chart_cases.load_chart(info.context, depot_id, from_, to, max_points)
    return present(found, LoadChart.from_domain)


async def _feature_flags(info: Ctx, depot_id: strawberry.ID | None = None) -> list[FeatureFlag]:
    found = await flags.feature_flags(info.context, depot_id)
    return [FeatureFlag.from_domain(e) for e in found]


@strawberry.type
class Query:
    viewer: Viewer = guarded(_viewer)
    audit_trail: AuditEntryConnection = guarded(
        _audit_trail, "Accepted configuration changes, newest first (admin)."
    )
    depot: Depot | None = guarded(_depot)
    depots: DepotConnection = guarded(_depots)
    microgrid: r.MicrogridResult = guarded(_microgrid)
    microgrid_by_depot: r.MicrogridResult = guarded(
        _microgrid_by_depot,
        "Bootstrap/admin lookup; the result still carries its own microgrid id.",
    )
    microgrid_card: r.MicrogridCardResult = guarded(_microgrid_card)
    controller_binding: ControllerBinding | None = guarded(_controller_binding)
    device: Device | None = guarded(_device)
    sensor_packets: SensorPacketConnection = guarded(
        _sensor_packets,
        "Inbound packets with the outcome of each sensor action, newest first.",
    )
    load_chart: LoadChartResult = guarded(
        _load_chart,
        "The load page's chart for a time range, in at most maxPoints buckets per series.",
    )
    feature_flags: list[FeatureFlag] = guarded(
        _feature_flags,
        "Every known flag, for a depot or (without depotId) the global values.",
    )
