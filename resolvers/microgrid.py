"""Microgrid lookups, resync and backfill."""

from __future__ import annotations

import strawberry

from domain import reads
from domain.backfill import backfill
from domain.problems import NotFound
from domain.resync import Resynced, resync_microgrid
from resolvers.ids import parse_id
from schema import results as r
from schema.problems import to_problem
from schema.types import Ctx, Microgrid, ResyncPlan, gid


async def microgrid(info: Ctx, id: strawberry.ID) -> r.MicrogridResult:
    ctx = info.context
    found = await reads.microgrid(ctx.deps, ctx.require_principal().scope, parse_id(id))
    return Microgrid.of(found) if not isinstance(found, NotFound) else to_problem(found)


async def microgrid_by_depot(info: Ctx, depot_id: strawberry.ID) -> r.MicrogridResult:
    ctx = info.context
    found = await reads.microgrid_by_depot(
        ctx.deps, ctx.require_principal().scope, parse_id(depot_id)
    )
    return Microgrid.of(found) if not isinstance(found, NotFound) else to_problem(found)


async def resync(info: Ctx, depot_id: strawberry.ID, dry_run: bool = False) -> r.ResyncResult:
    ctx = info.context
    result = await resync_microgrid(
        ctx.deps, ctx.require_principal().scope, parse_id(depot_id), dry_run
    )
    if isinstance(result, Resynced):
        return r.ResyncSuccess(
            microgrid=Microgrid.of(result.microgrid),
            changed=result.changed,
            previous_version=result.previous_version,
            dry_run=result.dry_run,
            plan=ResyncPlan.of(result.plan),
        )
    return to_problem(result)


async def backfill_microgrids(info: Ctx, dry_run: bool = False) -> r.BackfillReport:
    ctx = info.context
    report = await backfill(ctx.deps, ctx.require_principal().scope, dry_run=dry_run)
    return r.BackfillReport(
        dry_run=report.dry_run,
        created=report.created,
        already_provisioned=report.already_provisioned,
        skipped_no_top_level_circuits=report.skipped_no_top_level_circuits,
        created_microgrid_ids=[gid(i) for i in report.created_microgrid_ids],
    )
