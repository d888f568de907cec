"""Following a microgrid live: what to push to a subscriber, and when.

A feed delivers change notices (or ``None``: "re-read, you may have missed
something"). Every push re-reads the database, so notices are only hints.
The ports live delivery implements are here too (``Feeds``, ``CardUpdates``);
how updates reach many subscribers at once is live delivery's business."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
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
    def subscribe(
        self, microgrid_id: UUID, lossy: bool = False
    ) -> AbstractAsyncContextManager[Feed]:
        """A feed of this microgrid's notices. A lossy feed that falls behind
        delivers ``None`` (re-read) instead of failing."""
        ...


@dataclass(frozen=True, eq=False)
class CardUpdate:
    """A card pushed to subscribers, and why. One object per change, handed to
    every subscriber of the microgrid alike (compared by identity), so that
    what is built from it can be built once."""

    reason: ChangeReason
    card: Card


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


CardReader = Callable[[Dependencies, UUID], Awaitable[Card | None]]


async def follow_card(
    deps: Dependencies, feed: Feed, card: Card, read: CardReader = card_for_microgrid
) -> AsyncIterator[CardUpdate]:
    """Updates after ``card``: one per change that raised the revision, plus a
    FRESHNESS update when a status turns stale with no new event. Ends when the
    microgrid is gone."""
    last = card
    while True:
        item = await _next_or_timer(deps, feed, last)
        fresh = await read(deps, last.microgrid.id)
        if fresh is None:
            return
        if isinstance(item, _Timer):
            yield CardUpdate(ChangeReason.FRESHNESS, fresh)
        elif fresh.revision > last.revision:
            yield CardUpdate(item.reason if item else ChangeReason.SNAPSHOT, fresh)
        else:
            continue
        last = fresh


def is_newer(update: CardUpdate, revision: int, generated_at: datetime) -> bool:
    """Whether a subscriber whose card was read at ``revision`` and
    ``generated_at`` has yet to see ``update``: a higher revision, or a
    freshness transition found after its read."""
    card = update.card
    if card.revision != revision:
        return card.revision > revision
    return update.reason is ChangeReason.FRESHNESS and card.generated_at > generated_at


class FellBehind(Exception):
    """A subscriber did not take its card updates as fast as they came: its
    bounded queue overflowed."""


class CardListener(Protocol):
    async def snapshot(self) -> CardUpdate | None:
        """The card as the follower has it, read for now (``domain.card.as_of``),
        never older than what the follower last pushed, as a SNAPSHOT update
        (which subscribers arriving together may share); ``None`` when the
        microgrid is gone. A change the snapshot misses reaches :meth:`after`."""
        ...

    def after(self, revision: int, generated_at: datetime) -> AsyncIterator[CardUpdate]:
        """The updates newer than a snapshot of this ``revision`` read at
        ``generated_at`` (see :func:`is_newer`), until the microgrid is gone.
        Raises :class:`FellBehind` when the subscriber is too slow."""
        ...


class CardUpdates(Protocol):
    """The cards of microgrids followed live: one read per change, shared by
    every local subscriber (live delivery implements it)."""

    def listen(self, microgrid_id: UUID) -> AbstractAsyncContextManager[CardListener]:
        """Entered once this microgrid's changes are being followed (and its
        card read once), so that a card read after that misses none."""
        ...

    async def microgrid_of_depot(self, depot_id: UUID) -> UUID | None:
        """The id of the depot's microgrid (``None``: it has none), as
        ``domain.card.microgrid_ids_of_depots`` reads it."""
        ...


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
