"""One card follower per microgrid per process, shared by every local
subscriber of that microgrid's card (``domain.live.CardUpdates``).

The follower holds the only feed subscription and the only freshness timer
for the microgrid, reads the card once per change (``domain.live.follow_card``)
and has the update presented once (``present``: e.g. the schema's update
object, so that its execution and encoding can be shared too). It starts with
the first subscriber and stops with the last.

Each subscriber has a small listener: a short bounded queue and at most one
waiter, as there is one per open card subscription. While its consumer waits
with nothing queued, an update goes to the subscriber's direct delivery when
it has one (e.g. a frame written straight to its socket): one loop over the
listeners then reaches every subscriber, instead of waking one task per
subscriber. Anything else — an update that direct delivery declines, errors,
the end of the stream, or an update while others are still queued (order) —
goes through the queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.card import Card, card_for_microgrid
from domain.live import CardUpdate, Feeds, FellBehind, follow_card, is_newer
from domain.ports import Dependencies
from live_updates.follower_tracing import FollowerTracing, TracedReads


class DirectDelivery(Protocol):
    """Hands a waiting subscriber its update without waking its consumer."""

    def prepare(self, payload: object) -> Awaitable[None] | None:
        """Work to finish before :meth:`deliver` (``None``: nothing to wait for)."""
        ...

    def deliver(self, payload: object) -> bool:
        """``True`` once delivered; ``False`` leaves the update to the consumer."""
        ...


def _as_is(update: CardUpdate) -> object:
    return update


def _no_direct_delivery() -> DirectDelivery | None:
    return None


Item = CardUpdate | BaseException | None


class Listener:
    """One subscriber's view of a shared card follower (``domain.live.CardListener``)."""

    __slots__ = ("_items", "_since", "_size", "_waiter", "direct")

    def __init__(self, queue_size: int, direct: DirectDelivery | None = None) -> None:
        self._items: list[Item] = []
        self._size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._since: tuple[int, datetime] | None = None
        self.direct = direct
        """Takes updates once :meth:`after` waits for them."""

    def takes_direct(self) -> DirectDelivery | None:
        """``direct``, when the next update may go to it."""
        if self._waiter is None or self._items:
            return None
        return self.direct

    def offer(self, item: Item, payload: object = None) -> bool:
        """An update (with what ``direct`` would deliver of it), an error that
        ends the stream, or ``None`` (the microgrid is gone). ``True`` when
        ``direct`` delivered it."""
        if isinstance(item, CardUpdate) and self._since is not None:
            direct = self.takes_direct()
            if direct is not None:
                if not is_newer(item, *self._since):
                    return False
                if direct.deliver(payload):
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

    async def after(self, revision: int, generated_at: datetime) -> AsyncIterator[CardUpdate]:
        """The updates newer than a snapshot of this ``revision`` read at
        ``generated_at``, until the stream ends. From here on, updates may go
        to ``direct``."""
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
            if is_newer(item, revision, generated_at):
                yield item


class CardFollowers:
    """The process's card followers, one per followed microgrid.

    ``present`` builds, once per change, what a subscriber's direct delivery
    is handed; ``direct_for`` finds the direct delivery of the subscriber
    whose task calls it (``None``: that subscriber takes its updates from its
    queue only)."""

    def __init__(
        self,
        deps: Dependencies,
        feeds: Feeds,
        present: Callable[[CardUpdate], object] = _as_is,
        direct_for: Callable[[], DirectDelivery | None] = _no_direct_delivery,
        queue_size: int = 64,
        tracing: FollowerTracing | None = None,
    ) -> None:
        self._deps = deps
        self._tracing = tracing
        """Only when tracing is on: see live_updates.follower_tracing."""
        self._feeds = feeds
        self._present = present
        self._direct_for = direct_for
        self._queue_size = queue_size
        self._followers: dict[UUID, _Follower] = {}
        self.reads = 0
        self.direct_deliveries = 0

    @asynccontextmanager
    async def listen(self, microgrid_id: UUID) -> AsyncIterator[Listener]:
        """Yields once the follower is subscribed, so a card read after that
        misses no change."""
        follower = self._followers.get(microgrid_id)
        if follower is None or follower.task.done():
            follower = _Follower(self, microgrid_id)
            self._followers[microgrid_id] = follower
        listener = Listener(self._queue_size, self._direct_for())
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


class _Follower:
    def __init__(self, followers: CardFollowers, microgrid_id: UUID) -> None:
        self.followers = followers
        self.microgrid_id = microgrid_id
        self.listeners: set[Listener] = set()
        self.revision: int | None = None
        """Of the card last read; ``None`` until the first read."""
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.ensure_future(self._run())

    def _offer(self, item: Item, payload: object = None) -> None:
        delivered = 0
        for listener in list(self.listeners):
            delivered += listener.offer(item, payload)
        self.followers.direct_deliveries += delivered

    async def _offer_update(self, update: CardUpdate) -> None:
        payload = self.followers._present(update)
        for listener in list(self.listeners):
            direct = listener.takes_direct()
            if direct is not None:
                pending = direct.prepare(payload)
                if pending is not None:
                    await pending
        self._offer(update, payload)

    async def _run(self) -> None:
        f = self.followers
        try:
            async with f._feeds.subscribe(self.microgrid_id, lossy=True) as feed:
                self.ready.set_result(None)
                traced = None if f._tracing is None else TracedReads(f._tracing, feed, f._read)
                feed, read = (feed, f._read) if traced is None else (traced.feed, traced.read)
                card = await read(f._deps, self.microgrid_id)
                if card is not None:
                    self.revision = card.revision
                    async for update in follow_card(f._deps, feed, card, read):
                        self.revision = update.card.revision
                        if traced is None:
                            await self._offer_update(update)
                            continue
                        with traced.updating(update, len(self.listeners)):
                            await self._offer_update(update)
                self._offer(None)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not self.ready.done():
                self.ready.set_exception(error)
            self._offer(error)
