"""Object types of the contract, built from domain objects.

Nested fields load through the request's data loaders, so a list of parents
costs one query per kind of child, not one per parent."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import model, reads
from domain import topology as domain_topology
from domain.capability import CapabilityType as DomainCapabilityType
from domain.capability import StatusEvent as DomainStatusEvent
from domain.capability import StatusView
from domain.capacity import EffectiveCapacity, effective_capacity
from domain.card import Card
from domain.changes import ChangeReason
from domain.circuit_tree import children_by_parent
from domain.microgrid_sync import ResyncPlan as DomainResyncPlan
from domain.model import SensorActionType as DomainSensorActionType
from resolvers.context import RequestContext
from schema.enums import (
    BessOperationalMode,
    CapabilityType,
    CapacitySource,
    Freshness,
    HeartbeatStatus,
    MicrogridNodeType,
    OperationalStatus,
    PowerSourceKind,
    SensorActionType,
    TopologyNodeKind,
)
from schema.enums import ChangeReason as CardUpdateReason

Ctx = Info[RequestContext, None]


def gid(value: UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


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
    def of(cls, c: model.Circuit) -> Circuit:
        return cls(
            id=gid(c.id),
            depot_id=gid(c.depot_id),
            name=c.name,
            parent_id=gid(c.parent_id) if c.parent_id else None,
            is_top_level=c.is_top_level,
            position=c.position,
            safe_capacity_w=c.safe_capacity_w,
            available_capacity_w=c.available_capacity_w,
            fail_safe_capacity_w=c.fail_safe_capacity_w,
            heartbeat_status=HeartbeatStatus(c.heartbeat_status) if c.heartbeat_status else None,
            capacity_updated_at=c.capacity_updated_at,
            _domain=c,
        )

    def _effective(self, info: Ctx) -> EffectiveCapacity:
        deps = info.context.deps
        return effective_capacity(self._domain, deps.clock.now(), deps.stale_after_seconds)

    @strawberry.field(
        description="The capacity load management must use now, and where it came from."
    )
    def effective_capacity_w(self, info: Ctx) -> float | None:
        return self._effective(info).watts

    @strawberry.field
    def capacity_source(self, info: Ctx) -> CapacitySource | None:
        source = self._effective(info).source
        return CapacitySource(source.value) if source else None

    @strawberry.field
    async def children(self, info: Ctx) -> list[Circuit]:
        children = await info.context.loaders.children(self._domain.depot_id, self._domain.id)
        return [Circuit.of(c) for c in children]


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
    def of(cls, p: model.PowerSource) -> PowerSource:
        return cls(
            id=gid(p.id),
            depot_id=gid(p.depot_id),
            circuit_id=gid(p.circuit_id) if p.circuit_id else None,
            kind=PowerSourceKind(p.kind.value),
            name=p.name,
            power_state=p.power_state,
            operational_mode=BessOperationalMode(p.operational_mode.value)
            if p.operational_mode
            else None,
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
    def of(cls, g: model.Gateway) -> Gateway:
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
    def of(cls, a: model.SensorAction) -> SensorAction:
        return cls(
            id=gid(a.id),
            device_id=gid(a.device_id),
            type=SensorActionType(a.type.value),
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
        actions = await info.context.loaders.sensor_actions.load(self._id)
        order = list(DomainSensorActionType)
        return [SensorAction.of(a) for a in sorted(actions, key=lambda a: order.index(a.type))]

    @classmethod
    def of(cls, d: model.Device) -> Device:
        return cls(
            id=gid(d.id),
            depot_id=gid(d.depot_id),
            gateway_id=gid(d.gateway_id) if d.gateway_id else None,
            circuit_id=gid(d.circuit_id) if d.circuit_id else None,
            name=d.name,
            _id=d.id,
        )


@strawberry.type
class Depot:
    id: strawberry.ID
    name: str
    created_at: datetime
    _domain: strawberry.Private[model.Depot]

    @classmethod
    def of(cls, d: model.Depot) -> Depot:
        return cls(id=gid(d.id), name=d.name, created_at=d.created_at, _domain=d)

    @strawberry.field(
        description="Every circuit of the depot, top-level ones included, in tree order."
    )
    async def circuits(self, info: Ctx) -> list[Circuit]:
        circuits = await info.context.loaders.circuits.load(self._domain.id)
        children = children_by_parent(circuits)
        in_tree_order: list[Circuit] = []
        stack = list(reversed(children.get(None, [])))
        while stack:
            circuit = stack.pop()
            in_tree_order.append(Circuit.of(circuit))
            stack.extend(reversed(children.get(circuit.id, [])))
        return in_tree_order

    @strawberry.field
    async def microgrid(self, info: Ctx) -> Microgrid | None:
        found = await info.context.loaders.microgrid.load(self._domain.id)
        return Microgrid.of(found) if found else None

    @strawberry.field
    async def power_sources(self, info: Ctx) -> list[PowerSource]:
        equipment = await info.context.loaders.equipment.load(self._domain.id)
        return [
            PowerSource.of(p)
            for p in sorted(equipment.power_sources.get(self._domain.id, []), key=lambda p: p.name)
        ]

    @strawberry.field
    async def gateways(self, info: Ctx) -> list[Gateway]:
        equipment = await info.context.loaders.equipment.load(self._domain.id)
        return [
            Gateway.of(g)
            for g in sorted(equipment.gateways.get(self._domain.id, []), key=lambda g: g.name)
        ]

    @strawberry.field
    async def devices(self, info: Ctx) -> list[Device]:
        equipment = await info.context.loaders.equipment.load(self._domain.id)
        return [
            Device.of(d)
            for d in sorted(equipment.devices.get(self._domain.id, []), key=lambda d: d.name)
        ]


@strawberry.type
class DepotEdge:
    cursor: str
    node: Depot


@strawberry.type
class DepotConnection:
    edges: list[DepotEdge]
    page_info: PageInfo


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
    def of(cls, node: model.GridConnection, depot_id: UUID) -> GridConnection:
        return cls(
            id=gid(node.id),
            node_type=MicrogridNodeType.GRID_CONNECTION,
            name=node.name,
            position=node.position,
            circuit_id=gid(node.circuit_id),
            _depot_id=depot_id,
            _circuit_id=node.circuit_id,
        )

    @strawberry.field(description="Null when the source circuit no longer exists (drift).")
    async def circuit(self, info: Ctx) -> Circuit | None:
        circuits = await info.context.loaders.circuits.load(self._depot_id)
        found = next((c for c in circuits if c.id == self._circuit_id), None)
        return Circuit.of(found) if found else None


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
    def of(cls, n: domain_topology.TopologyNode) -> TopologyNode:
        return cls(
            id=gid(n.id),
            parent_id=gid(n.parent_id) if n.parent_id else None,
            kind=TopologyNodeKind(n.kind.value),
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
    def of(cls, plan: DomainResyncPlan) -> ResyncPlan:
        return cls(
            in_sync=plan.in_sync,
            added=[gid(i) for i in plan.added],
            removed=[gid(i) for i in plan.removed],
            renamed=[gid(i) for i in plan.renamed],
            reordered=plan.reordered,
        )


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
    def of(cls, v: StatusView) -> CapabilityStatus:
        return cls(
            capability=CapabilityType(v.capability.value),
            status=OperationalStatus(v.status.value),
            observed_at=v.observed_at,
            received_at=v.received_at,
            age_seconds=v.age_seconds,
            freshness=Freshness(v.freshness.value),
            stale_after_seconds=v.stale_after_seconds,
            stale_at=v.stale_at,
            provider_event_ref=v.provider_event_ref,
            source_device_id=gid(v.source_device_id) if v.source_device_id else None,
            event_id=gid(v.event_id) if v.event_id else None,
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
    def of(cls, e: DomainStatusEvent) -> CapabilityStatusEvent:
        o = e.observation
        return cls(
            id=gid(e.id),
            microgrid_id=gid(o.microgrid_id),
            capability=CapabilityType(o.capability.value),
            value=o.value,
            status=OperationalStatus(e.status.value),
            observed_at=o.observed_at,
            received_at=e.received_at,
            provider_event_ref=o.provider_event_ref,
            source_device_id=gid(o.source_device_id) if o.source_device_id else None,
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
    def of(cls, a: model.SensorAction) -> ControllerBinding:
        assert a.microgrid_id is not None
        return cls(
            id=gid(a.id),
            microgrid_id=gid(a.microgrid_id),
            device_id=gid(a.device_id),
            capabilities=[CapabilityType(c.value) for c in a.capabilities or []],
            enabled=a.enabled,
            stale_after_seconds=a.stale_after_seconds or 0,
            created_at=a.created_at,
            updated_at=a.updated_at,
            last_reported_at=a.last_reported_at,
            _device_id=a.device_id,
        )

    @strawberry.field
    async def device(self, info: Ctx) -> Device:
        found = await info.context.loaders.device.load(self._device_id)
        assert found is not None, "a binding's device exists (foreign key)"
        return Device.of(found)


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
    def of(cls, m: model.Microgrid) -> Microgrid:
        return cls(
            id=gid(m.id),
            depot_id=gid(m.depot_id),
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
            _domain=m,
        )

    @strawberry.field
    async def depot(self, info: Ctx) -> Depot:
        found = await info.context.loaders.depot.load(self._domain.depot_id)
        assert found is not None, "a microgrid's depot is in the caller's scope"
        return Depot.of(found)

    @strawberry.field
    def grid_connections(self) -> list[GridConnection]:
        return [
            GridConnection.of(n, self._domain.depot_id)
            for n in sorted(self._domain.grid_connections, key=lambda n: n.position)
        ]

    @strawberry.field(
        description="Electrical structure from the grid connections downward, depth-first."
    )
    async def topology(self, info: Ctx) -> list[TopologyNode]:
        circuits = await info.context.loaders.circuits.load(self._domain.depot_id)
        equipment = await info.context.loaders.equipment.load(self._domain.depot_id)
        return [TopologyNode.of(n) for n in reads.topology_of(self._domain, circuits, equipment)]

    @strawberry.field(
        description="How the persisted grid connections differ from today's top-level circuits."
    )
    async def drift(self, info: Ctx) -> ResyncPlan:
        circuits = await info.context.loaders.circuits.load(self._domain.depot_id)
        return ResyncPlan.of(reads.drift(self._domain, circuits))

    @strawberry.field(description="One entry per CapabilityType, always present.")
    async def capability_statuses(self, info: Ctx) -> list[CapabilityStatus]:
        latest = await info.context.loaders.latest.load(self._domain.id)
        bindings = await info.context.loaders.bindings.load(self._domain.id)
        views = reads.status_views(info.context.deps, latest, bindings)
        return [CapabilityStatus.of(v) for v in views]

    @strawberry.field(description="Newest first; `first` is capped at 100.")
    async def capability_history(
        self,
        info: Ctx,
        capability: CapabilityType | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> CapabilityStatusEventConnection:
        page = await info.context.loaders.history.load(
            (
                self._domain.id,
                DomainCapabilityType(capability.value) if capability else None,
                first,
                after,
            )
        )
        edges = [
            CapabilityStatusEventEdge(
                cursor=reads.encode_sequence(e.sequence), node=CapabilityStatusEvent.of(e)
            )
            for e in page.events
        ]
        return CapabilityStatusEventConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field
    async def controller_bindings(
        self, info: Ctx, include_disabled: bool = False
    ) -> list[ControllerBinding]:
        bindings = await info.context.loaders.bindings.load(self._domain.id)
        return [
            ControllerBinding.of(b)
            for b in sorted(bindings, key=lambda b: b.created_at)
            if b.enabled or include_disabled
        ]


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
    def of(cls, card: Card) -> MicrogridCard:
        m = card.microgrid
        return cls(
            microgrid_id=gid(m.id),
            depot_id=gid(m.depot_id),
            depot_name=card.depot.name,
            microgrid_version=m.version,
            peak_shaving=CapabilityStatus.of(card.peak_shaving),
            der=CapabilityStatus.of(card.der),
            capabilities=[CapabilityStatus.of(status) for status in card.statuses.values()],
            grid_connections=[
                GridConnection.of(n, m.depot_id)
                for n in sorted(m.grid_connections, key=lambda n: n.position)
            ],
            power_sources=[PowerSource.of(p) for p in card.power_sources],
            revision=card.revision,
            generated_at=card.generated_at,
        )


@strawberry.type
class MicrogridCardUpdate:
    reason: CardUpdateReason
    card: MicrogridCard

    @classmethod
    def of(cls, reason: ChangeReason, card: Card) -> MicrogridCardUpdate:
        return cls(reason=CardUpdateReason(reason.value), card=MicrogridCard.of(card))


@strawberry.type(description="An accepted configuration change and the token that made it.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    token_id: strawberry.ID | None
    action: str = strawberry.field(description="The mutation, e.g. createCircuit.")
    subject_id: strawberry.ID | None
    depot_id: strawberry.ID | None
    detail: JSON


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo
