"""Depots: lookups, the depot page, creation, and what a depot holds."""

from __future__ import annotations

from uuid import UUID

from domain import reads
from domain.circuit_tree import children_by_parent
from domain.depots import DepotCreated, NewCircuit, create_depot
from domain.model import Circuit, Depot, Device, Gateway, Microgrid, PowerSource
from domain.problems import ValidationFailed
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def depot(ctx: RequestContext, id: str) -> Depot | None:
    depot_id = parse_id(id)
    return await ctx.loaders.depot.load(depot_id) if depot_id else None


async def depots(ctx: RequestContext, first: int, after: str | None) -> reads.Page:
    return await reads.depot_page(ctx.deps, ctx.require_principal().scope, first, after)


async def new_depot(
    ctx: RequestContext, name: str, top_level_circuits: list[NewCircuit]
) -> DepotCreated | ValidationFailed:
    return await create_depot(ctx.deps, ctx.require_principal().scope, name, top_level_circuits)


async def circuits_in_tree_order(ctx: RequestContext, depot_id: UUID) -> list[Circuit]:
    """Every circuit of the depot, depth-first, siblings in their order."""
    children = children_by_parent(await ctx.loaders.circuits.load(depot_id))
    in_tree_order: list[Circuit] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        circuit = stack.pop()
        in_tree_order.append(circuit)
        stack.extend(reversed(children.get(circuit.id, [])))
    return in_tree_order


async def microgrid(ctx: RequestContext, depot_id: UUID) -> Microgrid | None:
    return await ctx.loaders.microgrid.load(depot_id)


async def power_sources(ctx: RequestContext, depot_id: UUID) -> list[PowerSource]:
    equipment = await ctx.loaders.equipment.load(depot_id)
    return sorted(equipment.power_sources.get(depot_id, []), key=lambda p: p.name)


async def gateways(ctx: RequestContext, depot_id: UUID) -> list[Gateway]:
    equipment = await ctx.loaders.equipment.load(depot_id)
    return sorted(equipment.gateways.get(depot_id, []), key=lambda g: g.name)


async def devices(ctx: RequestContext, depot_id: UUID) -> list[Device]:
    equipment = await ctx.loaders.equipment.load(depot_id)
    return sorted(equipment.devices.get(depot_id, []), key=lambda d: d.name)
