"""Rebuilding the latest-status projection from the event store alone."""

from __future__ import annotations

from domain.capability import StatusEvent, latest_of
from domain.ports import Dependencies


async def rebuild_latest_statuses(deps: Dependencies) -> int:
    """Replace the projection with what the events say; returns the rows written."""
    async with deps.uow() as uow:
        by_stream: dict[object, list[StatusEvent]] = {}
        for event in await uow.events.all_events():
            by_stream.setdefault(event.observation.microgrid_id, []).append(event)
        rows = [e for events in by_stream.values() for e in latest_of(events).values()]
        await uow.latest.replace_all(rows)
        await uow.commit()
    return len(rows)
