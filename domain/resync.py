"""Repairing drift between a microgrid's grid connections and the circuits."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import dataclass
from uuid import UUID

from domain import microgrid_sync
from domain.access import Scope
from domain.audit import AuditEntry
from domain.microgrid_sync import ResyncPlan
from domain.model import Microgrid
from domain.ports import Dependencies
from domain.problems import NotFound, ProvisioningFailed
from domain.provisioning import ProvisioningCode, provision, save_and_notify


@dataclass(frozen=True)
class Resynced:
    microgrid: Microgrid
    changed: bool
    previous_version: int
    dry_run: bool
    plan: ResyncPlan


async def resync_microgrid(
    deps: Dependencies, scope: Scope, depot_id: UUID | None, dry_run: bool
) -> Resynced | NotFound | ProvisioningFailed:
    async with deps.uow(write=not dry_run) as uow:
        depot = None
        if depot_id and scope.allows(depot_id):
            depot = await (uow.depots.get(depot_id) if dry_run else uow.depots.lock(depot_id))
        if depot is None:
            return NotFound("Depot", str(depot_id) if depot_id else None)
        circuits = await uow.circuits.for_depot(depot.id)
        microgrid = await uow.microgrids.for_depot(depot.id)
        if not any(c.is_top_level for c in circuits):
            return ProvisioningFailed(
                ProvisioningCode.NO_TOP_LEVEL_CIRCUITS.value,
                "The depot has no top-level circuit; a microgrid needs at least one "
                "grid connection, so nothing was changed.",
                depot.id,
            )
        if microgrid is None:
            if dry_run:
                count = sum(1 for c in circuits if c.is_top_level)
                return ProvisioningFailed(
                    "NOT_PROVISIONED",
                    f"The depot has no microgrid yet; a resync without dryRun would "
                    f"provision it with {count} grid connection(s).",
                    depot.id,
                )
            sync = await provision(uow, deps, depot.id, circuits)
            uow.audit(
                AuditEntry(
                    "resyncMicrogrid",
                    deps.clock.now(),
                    depot.id,
                    depot.id,
                    {"provisioning": sync.outcome.code.value},
                )
            )
            await uow.commit()
            assert sync.microgrid is not None
            added = tuple(n.circuit_id for n in sync.microgrid.grid_connections)
            plan = sync.plan or ResyncPlan(added if sync.changed else (), (), (), False)
            return Resynced(sync.microgrid, sync.changed, sync.previous_version, False, plan)
        previous = microgrid.version
        if dry_run:
            plan = microgrid_sync.plan(microgrid, circuits)
            return Resynced(microgrid, False, previous, True, plan)
        before = deepcopy(microgrid)
        plan = microgrid_sync.apply(microgrid, circuits, deps.clock.now(), deps.new_id)
        if plan.in_sync:
            return Resynced(before, False, previous, False, plan)
        await save_and_notify(uow, microgrid)
        uow.audit(
            AuditEntry(
                "resyncMicrogrid",
                deps.clock.now(),
                microgrid.id,
                depot.id,
                {
                    "previousVersion": previous,
                    "version": microgrid.version,
                    "added": len(plan.added),
                    "removed": len(plan.removed),
                    "renamed": len(plan.renamed),
                    "reordered": plan.reordered,
                },
            )
        )
        await uow.commit()
    return Resynced(microgrid, True, previous, False, plan)
