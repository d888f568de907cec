"""The Microgrid card: what operators watch, read in one short transaction."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from domain.access import Scope
from domain.capability import (
    CapabilityType,
    Freshness,
    StatusEvent,
    StatusView,
    next_freshness_change,
    view,
)
from domain.model import Depot, Microgrid, PowerSource, SensorAction
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


def as_of(card: Card, now: datetime) -> Card:
    """``card`` as it reads at ``now``: each status's freshness and age follow
    the clock (a status that went stale since the card was read shows STALE);
    everything else is the card's own. A ``now`` before the card was read
    changes nothing."""
    if now <= card.generated_at:
        return card
    return replace(
        card,
        statuses={c: _view_at(v, now) for c, v in card.statuses.items()},
        generated_at=now,
    )


def _view_at(status: StatusView, now: datetime) -> StatusView:
    if status.observed_at is None or status.stale_at is None:
        return status
    return replace(
        status,
        freshness=Freshness.FRESH if now < status.stale_at else Freshness.STALE,
        age_seconds=(now - status.observed_at).total_seconds(),
    )


def depot_not_visible(scope: Scope, depot_id: UUID | None) -> NotFound | None:
    """The answer for a depot this scope cannot see (or a malformed id), else ``None``."""
    if depot_id is None or not scope.allows(depot_id):
        return NotFound("Depot", str(depot_id) if depot_id else None)
    return None


def no_microgrid(depot_id: UUID) -> NotFound:
    return NotFound(
        "Microgrid",
        None,
        message=f"Depot {depot_id} has no microgrid (unknown depot, or no top-level circuit).",
    )


async def card_for_depot(
    deps: Dependencies, scope: Scope, depot_id: UUID | None
) -> Card | NotFound:
    hidden = depot_not_visible(scope, depot_id)
    if hidden is not None or depot_id is None:
        return hidden or NotFound("Depot", None)
    async with deps.uow(write=False) as uow:
        microgrid = await uow.microgrids.for_depot(depot_id)
    if microgrid is None:
        return no_microgrid(depot_id)
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
    return _card(deps, microgrid, depot, latest, sources, bindings, deps.clock.now())


async def cards_for_microgrids(
    deps: Dependencies, microgrid_ids: Collection[UUID]
) -> dict[UUID, Card]:
    """The cards of these microgrids (a gone one is missing), read in one short
    transaction: what many cards read one by one would cost per card, once."""
    async with deps.uow(write=False) as uow:
        microgrids: dict[UUID, Microgrid] = {}
        for microgrid_id in microgrid_ids:
            microgrid = await uow.microgrids.get(microgrid_id)
            if microgrid is not None:
                microgrids[microgrid_id] = microgrid
        if not microgrids:
            return {}
        depot_ids = {m.depot_id for m in microgrids.values()}
        depots = await uow.depots.get_many(depot_ids)
        latest = await uow.latest.for_microgrids(list(microgrids))
        sources = await uow.equipment.power_sources(list(depot_ids))
        bindings = await uow.sensor_actions.bindings_for_microgrids(list(microgrids))
    now = deps.clock.now()
    return {
        microgrid_id: _card(
            deps,
            microgrid,
            depots[microgrid.depot_id],
            latest.get(microgrid_id, {}),
            sources.get(microgrid.depot_id, []),
            bindings.get(microgrid_id, []),
            now,
        )
        for microgrid_id, microgrid in microgrids.items()
    }


async def microgrid_ids_of_depots(
    deps: Dependencies, depot_ids: Collection[UUID]
) -> dict[UUID, UUID]:
    """The id of each of these depots' microgrid (a depot without one is missing)."""
    async with deps.uow(write=False) as uow:
        found = await uow.microgrids.for_depots(depot_ids)
    return {depot_id: microgrid.id for depot_id, microgrid in found.items()}


def _card(
    deps: Dependencies,
    microgrid: Microgrid,
    depot: Depot,
    latest: Mapping[CapabilityType, StatusEvent],
    sources: list[PowerSource],
    bindings: list[SensorAction],
    now: datetime,
) -> Card:
    stale_after = thresholds(bindings, deps.stale_after_seconds)
    return Card(
        microgrid=microgrid,
        depot=depot,
        statuses={c: view(c, latest.get(c), now, stale_after[c]) for c in CapabilityType},
        power_sources=sorted(sources, key=lambda p: (p.name, str(p.id))),
        generated_at=now,
    )
