"""Provisioning and syncing one depot's microgrid inside the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain import microgrid_sync
from domain.changes import Change, ChangeReason
from domain.model import Circuit, Microgrid
from domain.ports import Dependencies, UnitOfWork


class ProvisioningCode(StrEnum):
    PROVISIONED = "PROVISIONED"
    ALREADY_PROVISIONED = "ALREADY_PROVISIONED"
    NO_TOP_LEVEL_CIRCUITS = "NO_TOP_LEVEL_CIRCUITS"


_MESSAGES = {
    ProvisioningCode.PROVISIONED: "The depot's microgrid was provisioned.",
    ProvisioningCode.ALREADY_PROVISIONED: "The depot already has its microgrid.",
    ProvisioningCode.NO_TOP_LEVEL_CIRCUITS: (
        "The depot has no top-level circuit, so it has no microgrid."
    ),
}


@dataclass(frozen=True)
class ProvisioningOutcome:
    code: ProvisioningCode

    @property
    def provisioned(self) -> bool:
        return self.code is not ProvisioningCode.NO_TOP_LEVEL_CIRCUITS

    @property
    def message(self) -> str:
        return _MESSAGES[self.code]


@dataclass(frozen=True)
class MicrogridSync:
    """What a change did to the depot's microgrid."""

    microgrid: Microgrid | None
    changed: bool
    outcome: ProvisioningOutcome
    plan: microgrid_sync.ResyncPlan | None = None
    previous_version: int = 0


async def save_and_notify(uow: UnitOfWork, microgrid: Microgrid) -> None:
    """Persist a changed microgrid and tell live screens once it commits."""
    await uow.microgrids.save(microgrid)
    uow.notify(Change(microgrid.id, ChangeReason.TOPOLOGY, microgrid.revision))


async def provision(
    uow: UnitOfWork, deps: Dependencies, depot_id: UUID, circuits: list[Circuit]
) -> MicrogridSync:
    """Create the depot's microgrid if it has none and has top-level circuits.

    The caller holds the depot lock. A concurrent winner (the database's partial
    unique index decides) turns this call into ``ALREADY_PROVISIONED``.
    """
    fresh = microgrid_sync.new_microgrid(depot_id, circuits, deps.clock.now(), deps.new_id)
    if fresh is None:
        outcome = ProvisioningOutcome(ProvisioningCode.NO_TOP_LEVEL_CIRCUITS)
        return MicrogridSync(None, False, outcome)
    if fresh.id in await uow.microgrids.add_if_absent([fresh]):
        return MicrogridSync(fresh, True, ProvisioningOutcome(ProvisioningCode.PROVISIONED))
    existing = await uow.microgrids.for_depot(depot_id)
    assert existing is not None, "the insert lost to a microgrid that must now be visible"
    return await _sync_existing(uow, deps, existing, circuits)


async def sync_depot(
    uow: UnitOfWork, deps: Dependencies, depot_id: UUID, circuits: list[Circuit]
) -> MicrogridSync:
    """Run after every circuit change, in the same transaction."""
    existing = await uow.microgrids.for_depot(depot_id)
    if existing is None:
        return await provision(uow, deps, depot_id, circuits)
    return await _sync_existing(uow, deps, existing, circuits)


async def _sync_existing(
    uow: UnitOfWork, deps: Dependencies, microgrid: Microgrid, circuits: list[Circuit]
) -> MicrogridSync:
    previous = microgrid.version
    change = microgrid_sync.apply(microgrid, circuits, deps.clock.now(), deps.new_id)
    if not change.in_sync:
        await save_and_notify(uow, microgrid)
    return MicrogridSync(
        microgrid,
        changed=not change.in_sync,
        outcome=ProvisioningOutcome(ProvisioningCode.ALREADY_PROVISIONED),
        plan=change,
        previous_version=previous,
    )
