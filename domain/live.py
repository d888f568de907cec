"""Following a microgrid live: what to push to a subscriber, and when.

A feed delivers change notices (or ``None``: "re-read, you may have missed
something"). Every push re-reads the database, so notices are only hints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from domain.capability import StatusEvent
from domain.card import Card, card_for_microgrid
from domain.changes import Change, ChangeReason
from domain.model import Microgrid
from domain.ports import Dependencies

EVENT_BATCH = 100


class Feed(Protocol):
    async def next(self) -> Change | None:
        """The next notice for this microgrid; ``None`` asks for a full re-read."""
        ...


class Feeds(Protocol):
    def subscribe(self, microgrid_id: UUID) -> AbstractAsyncContextManager[Feed]: ...


class _Timer:
    pass


TIMER = _Timer()


async def _next_or_timer(deps: Dependencies, feed: Feed, card: Card) -> Change | _Timer | None:
    deadline = card.next_freshness_change
    if deadline is None:
        return await feed.next()
    notice = asyncio.ensure_future(feed.next())
    timer = asyncio.ensure_future(deps.clock.sleep_until(deadline))
    try:
        await asyncio.wait({notice, timer}, return_when=asyncio.FIRST_COMPLETED)
        if notice.done():
            return notice.result()
        return TIMER
    finally:
        for task in (notice, timer):
            if not task.done():
                task.cancel()


class SharedCardReads:
    """One card read per change notice per process, shared by every local
    subscriber woken by that notice.

    A read is keyed by the notice's revision and starts after the notice
    arrived (so after its transaction committed): whoever joins it sees at
    least that revision. The last read per microgrid is kept, so a subscriber
    that wakes late for the same notice still joins it."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps
        self._last: dict[UUID, tuple[int, asyncio.Future[Card | None]]] = {}
        self.reads = 0

    async def read(self, microgrid_id: UUID, notice: Change | None) -> Card | None:
        if notice is None:
            return await self._read(microgrid_id)
        last = self._last.get(microgrid_id)
        if last is not None and last[0] == notice.revision:
            return await asyncio.shield(last[1])
        future = asyncio.ensure_future(self._read(microgrid_id))
        if last is None or notice.revision > last[0]:
            self._last[microgrid_id] = (notice.revision, future)
        return await asyncio.shield(future)

    async def _read(self, microgrid_id: UUID) -> Card | None:
        self.reads += 1
        return await card_for_microgrid(self._deps, microgrid_id)


async def follow_card(
    deps: Dependencies, feed: Feed, card: Card, cards: SharedCardReads | None = None
) -> AsyncIterator[tuple[ChangeReason, Card]]:
    """Updates after ``card``: one per change that raised the revision, plus a
    FRESHNESS update when a status turns stale with no new event."""
    shared = cards or SharedCardReads(deps)
    last = card
    while True:
        item = await _next_or_timer(deps, feed, last)
        notice = item if isinstance(item, Change) else None
        fresh = await shared.read(last.microgrid.id, notice)
        if fresh is None:
            return
        if isinstance(item, _Timer):
            yield ChangeReason.FRESHNESS, fresh
        elif fresh.revision > last.revision:
            yield (item.reason if item else ChangeReason.SNAPSHOT), fresh
        else:
            continue
        last = fresh


async def follow_events(
    deps: Dependencies, feed: Feed, microgrid_id: UUID, after_sequence: int
) -> AsyncIterator[StatusEvent]:
    """Every capability-status event appended after ``after_sequence``, in order."""
    last = after_sequence
    while True:
        await feed.next()
        while True:
            async with deps.uow(write=False) as uow:
                batch = await uow.events.after(microgrid_id, last, EVENT_BATCH)
            for event in batch:
                yield event
                last = event.sequence
            if len(batch) < EVENT_BATCH:
                break


def _shape(microgrid: Microgrid) -> tuple[int, list[tuple[UUID, str, int]]]:
    return microgrid.version, sorted(
        (n.circuit_id, n.name, n.position) for n in microgrid.grid_connections
    )


async def follow_topology(
    deps: Dependencies, feed: Feed, microgrid: Microgrid
) -> AsyncIterator[Microgrid]:
    """The microgrid again after each change of its grid connections."""
    last = microgrid
    while True:
        notice = await feed.next()
        if notice is not None and notice.reason is not ChangeReason.TOPOLOGY:
            continue
        async with deps.uow(write=False) as uow:
            fresh = await uow.microgrids.get(last.id)
        if fresh is None:
            return
        if _shape(fresh) != _shape(last):
            yield fresh
            last = fresh
