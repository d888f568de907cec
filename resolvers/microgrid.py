"""Microgrid lookups, resync and backfill, and what a microgrid derives from
its depot's circuits (topology, drift)."""

from __future__ import annotations

from domain import reads, topology
from domain.backfill import BackfillReport, backfill
from domain.microgrid_sync import ResyncPlan
from domain.model import Depot, Microgrid
from domain.problems import NotFound, ProvisioningFailed
from domain.resync import Resynced, resync_microgrid
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def microgrid(ctx: RequestContext, id: str) -> Microgrid | NotFound:
    return await reads.microgrid(ctx.deps, ctx.require_principal().scope, parse_id(id))


async def microgrid_by_depot(ctx: RequestContext, depot_id: str) -> Microgrid | NotFound:
    return await reads.microgrid_by_depot(
        ctx.deps, ctx.require_principal().scope, parse_id(depot_id)
    )


async def resync(
    ctx: RequestContext, depot_id: str, dry_run: bool
) -> Resynced | NotFound | ProvisioningFailed:
    return await resync_microgrid(
        ctx.deps, ctx.require_principal().scope, parse_id(depot_id), dry_run
    )


async def backfill_microgrids(ctx: RequestContext, dry_run: bool) -> BackfillReport:
    return await backfill(ctx.deps, ctx.require_principal().scope, dry_run=dry_run)


async def depot_of(ctx: RequestContext, microgrid: Microgrid) -> Depot:
    found = await ctx.loaders.depot.load(microgrid.depot_id)
    assert found is not None, "a microgrid's depot is in the caller's scope"
    return found


async def topology_of(ctx: RequestContext, microgrid: Microgrid) -> list[topology.TopologyNode]:
    """Electrical structure from the grid connections downward, depth-first."""
    circuits = await ctx.loaders.circuits.load(microgrid.depot_id)
    equipment = await ctx.loaders.equipment.load(microgrid.depot_id)
    return reads.topology_of(microgrid, circuits, equipment)


async def drift(ctx: RequestContext, microgrid: Microgrid) -> ResyncPlan:
    """How the persisted grid connections differ from today's top-level circuits."""
    circuits = await ctx.loaders.circuits.load(microgrid.depot_id)
    return reads.drift(microgrid, circuits)
