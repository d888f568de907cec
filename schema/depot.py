"""The Depot type, its page, and what a depot holds."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import model, reads
from resolvers import depots, flags
from schema.circuit import Circuit
from schema.common import Ctx, PageInfo, gid
from schema.equipment import Device, Gateway, PowerSource
from schema.flags import FeatureFlag
from schema.microgrid import Microgrid


@strawberry.type
class Depot:
    id: strawberry.ID
    name: str
    created_at: datetime
    _domain: strawberry.Private[model.Depot]

    @classmethod
    def from_domain(cls, d: model.Depot) -> Depot:
        return cls(id=gid(d.id), name=d.name, created_at=d.created_at, _domain=d)

    @strawberry.field(
        description="Every circuit of the depot, top-level ones included, in tree order."
    )
    async def circuits(self, info: Ctx) -> list[Circuit]:
        found = await depots.circuits_in_tree_order(info.context, self._domain.id)
        return [Circuit.from_domain(c) for c in found]

    @strawberry.field
    async def microgrid(self, info: Ctx) -> Microgrid | None:
        found = await depots.microgrid(info.context, self._domain.id)
        return Microgrid.from_domain(found) if found else None

    @strawberry.field
    async def power_sources(self, info: Ctx) -> list[PowerSource]:
        found = await depots.power_sources(info.context, self._domain.id)
        return [PowerSource.from_domain(p) for p in found]

    @strawberry.field
    async def gateways(self, info: Ctx) -> list[Gateway]:
        return [
            Gateway.from_domain(g) for g in await depots.gateways(info.context, self._domain.id)
        ]

    @strawberry.field
    async def devices(self, info: Ctx) -> list[Device]:
        return [Device.from_domain(d) for d in await depots.devices(info.context, self._domain.id)]

    @strawberry.field(description="Every known flag as it applies to this depot.")
    async def feature_flags(self, info: Ctx) -> list[FeatureFlag]:
        found = await flags.depot_feature_flags(info.context, self._domain.id)
        return [FeatureFlag.from_domain(e) for e in found]


@strawberry.type
class DepotEdge:
    cursor: str
    node: Depot


@strawberry.type
class DepotConnection:
    edges: list[DepotEdge]
    page_info: PageInfo

    @classmethod
    def from_domain(cls, page: reads.Page) -> DepotConnection:
        edges = [DepotEdge(cursor=page.cursor(d), node=Depot.from_domain(d)) for d in page.items]
        return cls(edges=edges, page_info=PageInfo.of_edges(edges, page.has_next_page))
