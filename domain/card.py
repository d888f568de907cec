"""The Microgrid card: what operators watch, read in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.access import Scope
from domain.capability import CapabilityType, StatusView, next_freshness_change, view
from domain.model import Depot, Microgrid, PowerSource
from domain.ports import Dependencies
from domain.problems import NotFound
from domain.stale_thresholds import thresholds


@dataclass(frozen=True)
class Card:
    microgrid: Microgrid
    depot: Depot
    statuses: dict[CapabilityType, StatusView]
    """One per capability type, in the enum's order."""
    power_sources: list[PowerSource]
    generated_at: datetime

    @property
    def revision(self) -> int:
        return self.microgrid.revision

    @property
    def peak_shaving(self) -> StatusView:
        return self.statuses[CapabilityType.PEAK_SHAVING]

    @property
    def der(self) -> StatusView:
        return self.statuses[CapabilityType.DER]

    @property
    def next_freshness_change(self) -> datetime | None:
        return next_freshness_change(list(self.statuses.values()), self.generated_at)


async def card_for_depot(
    deps: Dependencies, scope: Scope, depot_id: UUID | None
) -> Card | NotFound:
    if depot_id is None or not scope.allows(depot_id):
        return NotFound("Depot", str(depot_id) if depot_id else None)
    async with deps.uow(write=False) as uow:
        microgrid = await uow.microgrids.for_depot(depot_id)
    if microgrid is None:
        return NotFound(
            "Microgrid",
            None,
            message=(
                f"Depot {depot_id} has no microgrid (unknown depot, or no top-level circuit)."
            ),
        )
    return await card_for_microgrid(deps, microgrid.id) or NotFound("Microgrid", None)


async def card_for_microgrid(deps: Dependencies, microgrid_id: UUID) -> Card | None:
    async with deps.uow(write=False) as uow:
        microgrid = await uow.microgrids.get(microgrid_id)
        if microgrid is None:
            return None
        depot = await uow.depots.get(microgrid.depot_id)
        latest = (await uow.latest.for_microgrids([microgrid.id])).get(microgrid.id, {})
        sources = (await uow.equipment.power_sources([microgrid.depot_id])).get(
            microgrid.depot_id, []
        )
        bindings = (await uow.sensor_actions.bindings_for_microgrids([microgrid.id])).get(
            microgrid.id, []
        )
    assert depot is not None
    now = deps.clock.now()
    stale_after = thresholds(bindings, deps.stale_after_seconds)
    return Card(
        microgrid=microgrid,
        depot=depot,
        statuses={c: view(c, latest.get(c), now, stale_after[c]) for c in CapabilityType},
        power_sources=sorted(sources, key=lambda p: (p.name, str(p.id))),
        generated_at=now,
    )
