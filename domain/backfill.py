"""Provisioning every depot that has top-level circuits and no microgrid."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from domain import microgrid_sync
from domain.access import Scope
from domain.audit import AuditEntry
from domain.model import Microgrid
from domain.ports import Dependencies

BATCH_SIZE = 500


@dataclass
class BackfillReport:
    dry_run: bool
    created: int = 0
    already_provisioned: int = 0
    skipped_no_top_level_circuits: int = 0
    created_microgrid_ids: list[UUID] = field(default_factory=list)

    @property
    def examined(self) -> int:
        return self.created + self.already_provisioned + self.skipped_no_top_level_circuits


Progress = Callable[[int, int], None]
"""Called after each batch with (depots examined so far, total depots)."""


async def backfill(
    deps: Dependencies,
    scope: Scope,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    keep_ids: bool = True,
) -> BackfillReport:
    """Safe to re-run and to run beside other writers: each batch is one
    transaction holding its depots, and the database has the last word on
    whether a depot already has a microgrid. With ``dry_run`` nothing is
    written and ``created`` counts the microgrids that would be created.

    Depots are read in batches, so memory stays flat however many there are,
    unless ``keep_ids`` collects every created id for the report (the API
    returns them; the CLI only counts, and the audit trail names them)."""
    report = BackfillReport(dry_run=dry_run)
    async with deps.uow(write=False) as uow:
        total = await uow.depots.count()
    after: UUID | None = None
    while True:
        async with deps.uow(write=not dry_run) as uow:
            batch = await uow.depots.lock_batch(after, batch_size)
            if not batch:
                break
            after = batch[-1]
            in_scope = [d for d in batch if scope.allows(d)]
            existing = await uow.microgrids.for_depots(in_scope)
            candidates = [d for d in in_scope if d not in existing]
            top_level = await uow.circuits.top_level_for_depots(candidates)
            now = deps.clock.now()
            fresh: list[Microgrid] = []
            for depot_id in candidates:
                microgrid = microgrid_sync.new_microgrid(
                    depot_id, top_level.get(depot_id, []), now, deps.new_id
                )
                if microgrid is None:
                    report.skipped_no_top_level_circuits += 1
                else:
                    fresh.append(microgrid)
            report.already_provisioned += len(existing)
            if dry_run:
                report.created += len(fresh)
            else:
                inserted = await uow.microgrids.add_if_absent(fresh)
                if inserted:
                    uow.audit(
                        AuditEntry(
                            "backfillMicrogrids",
                            now,
                            detail={
                                "created": len(inserted),
                                "depots": [str(m.depot_id) for m in fresh if m.id in inserted],
                            },
                        )
                    )
                await uow.commit()
                report.created += len(inserted)
                report.already_provisioned += len(fresh) - len(inserted)
                if keep_ids:
                    report.created_microgrid_ids.extend(m.id for m in fresh if m.id in inserted)
        if progress:
            progress(min(report.examined, total), max(total, report.examined))
    return report
