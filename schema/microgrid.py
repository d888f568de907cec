"""The Microgrid type: its persisted grid connections, the structure derived
below them, its drift, capability statuses, history and bindings."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import strawberry

from domain import model
from domain import topology as domain_topology
from domain.microgrid_sync import ResyncPlan as DomainResyncPlan
from resolvers import bindings, capability_status, circuits
from resolvers import microgrid as microgrid_cases
from schema.binding import ControllerBinding
from schema.capability import CapabilityStatus, CapabilityStatusEventConnection
from schema.circuit import Circuit
from schema.common import Ctx, gid, gid_or_none
from schema.enums import CapabilityType, MicrogridNodeType, TopologyNodeKind

if TYPE_CHECKING:
    from schema.depot import Depot


@strawberry.type
class GridConnection:
    id: strawberry.ID
    node_type: MicrogridNodeType
    name: str
    position: int
    circuit_id: strawberry.ID
    _depot_id: strawberry.Private[UUID]
    _circuit_id: strawberry.Private[UUID]

    @classmethod
    def from_domain(cls, node: model.GridConnection, depot_id: UUID) -> GridConnection:
        return cls(
            id=gid(node.id),
            node_type=node.node_type,
            name=node.name,
            position=node.position,
            circuit_id=gid(node.circuit_id),
            _depot_id=depot_id,
            _circuit_id=node.circuit_id,
        )

    @classmethod
    def all_of(cls, microgrid: model.Microgrid) -> list[GridConnection]:
        """The microgrid's grid connections in their order."""
        return [
            cls.from_domain(n, microgrid.depot_id)
            for n in sorted(microgrid.grid_connections, key=lambda n: n.position)
        ]

    @strawberry.field(description="Null when the source circuit no longer exists (drift).")
    async def circuit(self, info: Ctx) -> Circuit | None:
        found = await circuits.circuit_in_depot(info.context, self._depot_id, self._circuit_id)
        return Circuit.from_domain(found) if found else None


@strawberry.type
class TopologyNode:
    id: strawberry.ID
    parent_id: strawberry.ID | None = strawberry.field(
        description="The parent node's id; null for a grid connection."
    )
    kind: TopologyNodeKind
    name: str
    depth: int = strawberry.field(description="0 for the grid-connection circuit itself.")
    grid_connection_id: strawberry.ID

    @classmethod
    def from_domain(cls, n: domain_topology.TopologyNode) -> TopologyNode:
        return cls(
            id=gid(n.id),
            parent_id=gid_or_none(n.parent_id),
            kind=n.kind,
            name=n.name,
            depth=n.depth,
            grid_connection_id=gid(n.grid_connection_id),
        )


@strawberry.type
class ResyncPlan:
    in_sync: bool
    added: list[strawberry.ID] = strawberry.field(
        description="Circuit ids of top-level circuits with no grid connection yet."
    )
    removed: list[strawberry.ID] = strawberry.field(
        description="Circuit ids whose grid connection would be removed."
    )
    renamed: list[strawberry.ID] = strawberry.field(
        description="Circuit ids whose grid connection name differs from the circuit name."
    )
    reordered: bool

    @classmethod
    def from_domain(cls, plan: DomainResyncPlan) -> ResyncPlan:
        return cls(
            in_sync=plan.in_sync,
            added=[gid(i) for i in plan.added],
            removed=[gid(i) for i in plan.removed],
            renamed=[gid(i) for i in plan.renamed],
            reordered=plan.reordered,
        )


@strawberry.type
class Microgrid:
    id: strawberry.ID
    depot_id: strawberry.ID
    version: int = strawberry.field(
        description="Changes only when the set or order of grid-connection nodes changes."
    )
    created_at: datetime
    updated_at: datetime
    _domain: strawberry.Private[model.Microgrid]

    @classmethod
    def from_domain(cls, m: model.Microgrid) -> Microgrid:
        return cls(
            id=gid(m.id),
            depot_id=gid(m.depot_id),
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
            _domain=m,
        )

    @strawberry.field
    async def depot(self, info: Ctx) -> Annotated[Depot, strawberry.lazy("schema.depot")]:
        # Depot refers back to Microgrid: the one import that has to wait.
        from schema.depot import Depot

        return Depot.from_domain(await microgrid_cases.depot_of(info.context, self._domain))

    @strawberry.field
    def grid_connections(self) -> list[GridConnection]:
        return GridConnection.all_of(self._domain)

    @strawberry.field(
        description="Electrical structure from the grid connections downward, depth-first."
    )
    async def topology(self, info: Ctx) -> list[TopologyNode]:
        nodes = await microgrid_cases.topology_of(info.context, self._domain)
        return [TopologyNode.from_domain(n) for n in nodes]

    @strawberry.field(
        description="How the persisted grid connections differ from today's top-level circuits."
    )
    async def drift(self, info: Ctx) -> ResyncPlan:
        return ResyncPlan.from_domain(await microgrid_cases.drift(info.context, self._domain))

    @strawberry.field(description="One entry per CapabilityType, always present.")
    async def capability_statuses(self, info: Ctx) -> list[CapabilityStatus]:
        views = await capability_status.statuses(info.context, self._domain.id)
        return [CapabilityStatus.from_domain(v) for v in views]

    @strawberry.field(description="Newest first; `first` is capped at 100.")
    async def capability_history(
        self,
        info: Ctx,
        capability: CapabilityType | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CapabilityStatusEventConnection:
        page = await capability_status.history(
            info.context, self._domain.id, capability, first, after
        )
        return CapabilityStatusEventConnection.from_domain(page)

    @strawberry.field
    async def controller_bindings(
        self, info: Ctx, include_disabled: bool = False
    ) -> list[ControllerBinding]:
        found = await bindings.bindings_of_microgrid(
            info.context, self._domain.id, include_disabled
        )
        return [ControllerBinding.from_domain(b) for b in found]
