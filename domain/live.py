"""Following a microgrid live: what to push to a subscriber, and when.

A feed delivers change notices (or ``None``: "re-read, you may have missed
something"). Every push re-reads the database, so notices are only hints."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Generic, Protocol, TypeVar
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


T = TypeVar("T")


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
) -> AsyncIterator[tuple[ChangeReason, Card]]:
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
            yield ChangeReason.FRESHNESS, fresh
        elif fresh.revision > last.revision:
            yield (item.reason if item else ChangeReason.SNAPSHOT), fresh
        else:
            continue
        last = fresh


class FellBehind(Exception):
    """A card listener's bounded queue overflowed: its reader is too slow."""


Item = tuple[ChangeReason, Card, T] | BaseException | None
U = TypeVar("U", contravariant=True)


class DirectDelivery(Protocol[U]):
    """Hands a waiting subscriber its update without waking its consumer (e.g.
    by writing an encoded frame straight to its socket)."""

    def prepare(self, update: U) -> Awaitable[None] | None:
        """Work to finish before :meth:`deliver` (``None``: nothing to wait for)."""
        ...

    def deliver(self, update: U) -> bool:
        """``True`` once delivered; ``False`` leaves the update to the consumer."""
        ...


class CardListener(Generic[T]):
    """One subscriber's view of a shared card follower: a bounded queue of
    presented updates. Kept small (a short list and at most one waiter), as
    there is one per open card subscription.

    While its consumer waits with nothing queued, an update goes to ``direct``
    when one is set: one loop over the listeners then reaches every subscriber,
    instead of waking one task per subscriber. Anything else — an update that
    ``direct`` declines, errors, the end of the stream, or an update while
    others are still queued (order) — goes through the queue."""

    __slots__ = ("_items", "_since", "_size", "_waiter", "direct")

    def __init__(self, queue_size: int) -> None:
        self._items: list[Item[T]] = []
        self._size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._since: tuple[int, datetime] | None = None
        self.direct: DirectDelivery[T] | None = None

    def takes_direct(self) -> DirectDelivery[T] | None:
        """``direct``, when the next update may go to it."""
        if self._waiter is None or self._items:
            return None
        return self.direct

    def offer(self, item: Item[T]) -> bool:
        """An update, an error that ends the stream, or ``None`` (the microgrid
        is gone). ``True`` when ``direct`` delivered it."""
        if isinstance(item, tuple) and self._since is not None:
            direct = self.takes_direct()
            if direct is not None:
                reason, card, presented = item
                if not _newer(reason, card, *self._since):
                    return False
                if direct.deliver(presented):
                    return True
        items = self._items
        if items and isinstance(items[-1], FellBehind):
            return False
        if len(items) >= self._size:
            items.pop()
            item = FellBehind()
        items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return False

    async def after(self, revision: int, generated_at: datetime) -> AsyncIterator[T]:
        """The presented updates newer than a snapshot of this ``revision`` read
        at ``generated_at``, until the stream ends."""
        self._since = (revision, generated_at)
        while True:
            while not self._items:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            item = self._items.pop(0)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            reason, card, presented = item
            if _newer(reason, card, revision, generated_at):
                yield presented


def _newer(reason: ChangeReason, card: Card, revision: int, generated_at: datetime) -> bool:
    if card.revision != revision:
        return card.revision > revision
    return reason is ChangeReason.FRESHNESS and card.generated_at > generated_at


class CardBroadcasts(Generic[T]):
    """One card follower per microgrid per process, shared by every local
    subscriber of that microgrid's card.

    The follower holds the only feed subscription and the only freshness timer
    for the microgrid, reads the card once per change and presents it once
    (``present``: e.g. into the GraphQL update object, so that its execution and
    encoding can be shared too); each subscriber only receives the presented
    update. It starts with the first subscriber and stops with the last."""

    def __init__(
        self,
        deps: Dependencies,
        feeds: Feeds,
        present: Callable[[ChangeReason, Card], T],
        queue_size: int = 64,
    ) -> None:
        self._deps = deps
        self._feeds = feeds
        self._present = present
        self._queue_size = queue_size
        self._followers: dict[UUID, _Follower[T]] = {}
        self.reads = 0
        self.direct_deliveries = 0

    @asynccontextmanager
    async def listen(self, microgrid_id: UUID) -> AsyncIterator[CardListener[T]]:
        """Yields once the follower is subscribed, so a card read after that
        misses no change."""
        follower = self._followers.get(microgrid_id)
        if follower is None or follower.task.done():
            follower = _Follower(self, microgrid_id)
            self._followers[microgrid_id] = follower
        listener: CardListener[T] = CardListener(self._queue_size)
        follower.listeners.add(listener)
        try:
            await asyncio.shield(follower.ready)
            yield listener
        finally:
            follower.listeners.discard(listener)
            if not follower.listeners:
                follower.task.cancel()
                if self._followers.get(microgrid_id) is follower:
                    del self._followers[microgrid_id]

    def followed(self) -> list[UUID]:
        """The microgrids whose card this process follows."""
        return [m for m, f in self._followers.items() if f.revision is not None]

    def behind(self, revisions: Mapping[UUID, int]) -> list[UUID]:
        """Followed microgrids whose last read card is older than ``revisions``
        (the database's; a microgrid missing from it is gone): their followers
        missed a notice and should re-read."""
        return [
            microgrid_id
            for microgrid_id, follower in self._followers.items()
            if follower.revision is not None
            and revisions.get(microgrid_id, follower.revision + 1) > follower.revision
        ]

    async def _read(self, deps: Dependencies, microgrid_id: UUID) -> Card | None:
        self.reads += 1
        return await card_for_microgrid(deps, microgrid_id)


class _Follower(Generic[T]):
    def __init__(self, broadcasts: CardBroadcasts[T], microgrid_id: UUID) -> None:
        self.broadcasts = broadcasts
        self.microgrid_id = microgrid_id
        self.listeners: set[CardListener[T]] = set()
        self.revision: int | None = None
        """Of the card last read; ``None`` until the first read."""
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.ensure_future(self._run())

    def _offer(self, item: Item[T]) -> None:
        delivered = 0
        for listener in list(self.listeners):
            delivered += listener.offer(item)
        self.broadcasts.direct_deliveries += delivered

    async def _offer_update(self, item: tuple[ChangeReason, Card, T]) -> None:
        for listener in list(self.listeners):
            direct = listener.takes_direct()
            if direct is not None:
                pending = direct.prepare(item[2])
                if pending is not None:
                    await pending
        self._offer(item)

    async def _run(self) -> None:
        b = self.broadcasts
        try:
            async with b._feeds.subscribe(self.microgrid_id, lossy=True) as feed:
                self.ready.set_result(None)
                card = await b._read(b._deps, self.microgrid_id)
                if card is not None:
                    self.revision = card.revision
                    async for reason, fresh in follow_card(b._deps, feed, card, b._read):
                        self.revision = fresh.revision
                        await self._offer_update((reason, fresh, b._present(reason, fresh)))
                self._offer(None)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            self._offer(error)


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
