"""Rebuilding the latest-status projection from the event store alone."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.capability import StatusEvent, latest_of
from domain.plausible.instants import plausibly_observed
from domain.ports import Dependencies


@dataclass(frozen=True)
class RebuildReport:
    rows: int
    """Latest-status rows written."""
    skipped: tuple[UUID, ...]
    """Events outside the plausible-input rules (stored before them), left out."""


async def rebuild_latest_statuses(deps: Dependencies) -> RebuildReport:
    """Replace the projection with what the plausible events say."""
    skipped: list[UUID] = []
    async with deps.uow() as uow:
        by_stream: dict[object, list[StatusEvent]] = {}
        for event in await uow.events.all_events():
            if not plausibly_observed(event.observation.observed_at, event.received_at):
                skipped.append(event.id)
                continue
            by_stream.setdefault(event.observation.microgrid_id, []).append(event)
        rows = [e for events in by_stream.values() for e in latest_of(events).values()]
        await uow.latest.replace_all(rows)
        await uow.commit()
    return RebuildReport(len(rows), tuple(skipped))
