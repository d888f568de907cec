"""One card follower per microgrid per process, shared by every local
subscriber of that microgrid's card (``domain.live.CardUpdates``).

The follower holds the only feed subscription and the only freshness timer
for the microgrid, reads the card once per change (``domain.live.follow_card``)
and has the update presented once (``present``: e.g. the schema's update
object, so that its execution and encoding can be shared too). It starts with
the first subscriber and stops with the last.

A new subscriber's snapshot is the follower's card read for now
(``domain.card.as_of``), not a read of its own: the follower's first read is
shared by every subscriber that arrives while it runs, and after it the card
the follower last pushed is the snapshot (a change it is reading right then
reaches the new subscriber as an update, since the subscriber listens before
it takes its snapshot). So a burst of subscribers to one microgrid costs one
card read. Which microgrid a depot has is answered the same way: by the
follower of that depot's microgrid, else by one lookup shared by everyone who
asks while it runs.

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
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from domain.card import Card, as_of, cards_for_microgrids, microgrid_ids_of_depots
from domain.changes import ChangeReason
from domain.live import CardReader, CardUpdate, Feeds, FellBehind, follow_card, is_newer
from domain.ports import Dependencies
from live_updates.batched_reads import BatchedReads
from live_updates.follower_tracing import FollowerTracing, TracedReads

SNAPSHOT_SHARED_FOR = timedelta(seconds=1)
"""How long one snapshot (and its execution and encoding) serves every new
subscriber of a card, while no status changes freshness and the follower's
card stays the same: its age and ``generatedAt`` lag by at most this much."""


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


def _never(_error: BaseException) -> bool:
    return False


RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0)
"""Pauses between a follower's attempts to read a card while the database is
unreachable; the last one repeats until a read succeeds."""


Item = CardUpdate | BaseException | None


class Listener:
    """One subscriber's view of a shared card follower (``domain.live.CardListener``)."""

    __slots__ = ("_follower", "_items", "_on_drop", "_since", "_size", "_waiter", "direct")

    def __init__(
        self,
        queue_size: int,
        direct: DirectDelivery | None = None,
        follower: _Follower | None = None,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        self._follower = follower
        self._on_drop = on_drop
        """Told when this listener falls behind (its stream ends with FellBehind)."""
        self._items: list[Item] = []
        self._size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._since: tuple[int, datetime] | None = None
        self.direct = direct
        """Takes updates once :meth:`after` waits for them."""

    async def snapshot(self) -> CardUpdate | None:
        """The follower's card read for now: see ``domain.live.CardListener``."""
        if self._follower is None:
            raise RuntimeError("this listener listens to no follower")
        return await self._follower.snapshot()

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
            if self._on_drop is not None:
                self._on_drop()
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
    queue only); ``delivered`` is told of each update once its one pass over
    the subscribers is done."""

    def __init__(
        self,
        deps: Dependencies,
        feeds: Feeds,
        present: Callable[[CardUpdate], object] = _as_is,
        direct_for: Callable[[], DirectDelivery | None] = _no_direct_delivery,
        queue_size: int = 64,
        transient: Callable[[BaseException], bool] = _never,
        delivered: Callable[[UUID, CardUpdate], None] | None = None,
        tracing: FollowerTracing | None = None,
    ) -> None:
        self._deps = deps
        self._transient = transient
        """Errors of a card read that pass (the database unreachable for a
        moment, a failover): the follower reads again instead of ending its
        subscribers' streams."""
        self._tracing = tracing
        """Only when tracing is on: see live_updates.follower_tracing."""
        self._feeds = feeds
        self._present = present
        self._direct_for = direct_for
        self._queue_size = queue_size
        self._followers: dict[UUID, _Follower] = {}
        self._by_depot: dict[UUID, _Follower] = {}
        """Followers by the depot of their card, once they have one."""
        self._cards: BatchedReads[UUID, Card] = BatchedReads(
            lambda ids: cards_for_microgrids(deps, ids)
        )
        self._depots: BatchedReads[UUID, UUID] = BatchedReads(
            lambda ids: microgrid_ids_of_depots(deps, ids)
        )
        self._delivered = delivered
        self.reads = 0
        self.direct_deliveries = 0
        self.dropped = 0
        """Subscribers that fell behind their queue (SUBSCRIBER_TOO_SLOW)."""

    @asynccontextmanager
    async def listen(self, microgrid_id: UUID) -> AsyncIterator[Listener]:
        """Yields once the follower is subscribed and has read the card once, so
        a card read after that misses no change (the follower pushes every
        change after its first read)."""
        follower = self._followers.get(microgrid_id)
        if follower is None or follower.task.done():
            follower = _Follower(self, microgrid_id)
            self._followers[microgrid_id] = follower
        listener = Listener(self._queue_size, self._direct_for(), follower, self._drop)
        follower.listeners.add(listener)
        try:
            await asyncio.shield(follower.ready)
            await asyncio.shield(follower.first_read)
            yield listener
        finally:
            follower.listeners.discard(listener)
            if not follower.listeners:
                follower.task.cancel()
                if self._followers.get(microgrid_id) is follower:
                    del self._followers[microgrid_id]
                follower.forget()

    async def microgrid_of_depot(self, depot_id: UUID) -> UUID | None:
        """The microgrid of a followed card of this depot, else a lookup
        (one for every depot asked for together; nothing is kept after it)."""
        follower = self._by_depot.get(depot_id)
        card = follower.card if follower is not None else None
        if card is not None and card.microgrid.depot_id == depot_id:
            return card.microgrid.id
        return await self._depots.get(depot_id)

    @property
    def card_transactions(self) -> int:
        """Transactions that read cards so far (each for any number of cards)."""
        return self._cards.batches

    @property
    def depot_lookups(self) -> int:
        """Lookups of depots' microgrids made so far (each for any number of depots)."""
        return self._depots.batches

    @property
    def follower_count(self) -> int:
        return len(self._followers)

    @property
    def subscriber_count(self) -> int:
        """Card subscribers of every follower."""
        return sum(len(f.listeners) for f in self._followers.values())

    def _drop(self) -> None:
        self.dropped += 1

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

    def _retrying(self, read: CardReader) -> CardReader:
        """``read`` for a followed card's later reads: while the database is
        unreachable, subscribers keep the card they have and the follower tries
        again, so their streams outlive the outage and catch up after it."""

        async def read_until_it_works(deps: Dependencies, microgrid_id: UUID) -> Card | None:
            attempt = 0
            while True:
                try:
                    return await read(deps, microgrid_id)
                except Exception as error:
                    if not self._transient(error):
                        raise
                await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
                attempt += 1

        return read_until_it_works

    async def _read(self, deps: Dependencies, microgrid_id: UUID) -> Card | None:
        """A card read after this call (with the cards of other followers that
        read in the same turn: one transaction for all of them)."""
        self.reads += 1
        return await self._cards.get(microgrid_id)


class _Follower:
    def __init__(self, followers: CardFollowers, microgrid_id: UUID) -> None:
        self.followers = followers
        self.microgrid_id = microgrid_id
        self.listeners: set[Listener] = set()
        self.revision: int | None = None
        """Of the card last read; ``None`` until the first read."""
        self.card: Card | None = None
        """The card last pushed (or first read); ``None`` before the first read
        and once the microgrid is gone."""
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.first_read: asyncio.Future[None] = loop.create_future()
        self._snapshot: tuple[Card, CardUpdate] | None = None
        """The follower's card, and the snapshot last made of it."""
        # Its own context, not the first subscriber's (its span and statement tally).
        self.task = asyncio.create_task(self._run(), context=contextvars.Context())

    def forget(self) -> None:
        """Stops answering for this microgrid (it is gone, or not followed any more)."""
        card, self.card, self._snapshot = self.card, None, None
        if card is not None and self.followers._by_depot.get(card.microgrid.depot_id) is self:
            del self.followers._by_depot[card.microgrid.depot_id]

    async def snapshot(self) -> CardUpdate | None:
        """The card read for now; one object (presented once, so executed and
        encoded once) for every subscriber that takes it while it reads true."""
        if not self.first_read.done():
            await asyncio.shield(self.first_read)
        self.first_read.result()  # the first read's error, if it failed
        card = self.card
        if card is None:
            return None
        now = self.followers._deps.clock.now()
        if self._snapshot is not None and self._snapshot[0] is card:
            shared = self._snapshot[1]
            if _still_true(shared.card, now):
                return shared
        update = CardUpdate(ChangeReason.SNAPSHOT, as_of(card, now))
        self.followers._present(update)
        self._snapshot = (card, update)
        return update

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
        if self.followers._delivered is not None:
            self.followers._delivered(self.microgrid_id, update)

    async def _run(self) -> None:
        f = self.followers
        try:
            async with f._feeds.subscribe(self.microgrid_id, lossy=True) as feed:
                self.ready.set_result(None)
                traced = None if f._tracing is None else TracedReads(f._tracing, feed, f._read)
                feed, read = (feed, f._read) if traced is None else (traced.feed, traced.read)
                card = await read(f._deps, self.microgrid_id)
                self.card = card
                if card is not None:
                    f._by_depot[card.microgrid.depot_id] = self
                self.first_read.set_result(None)
                if card is not None:
                    self.revision = card.revision
                    later = f._retrying(read)
                    async for update in follow_card(f._deps, feed, card, later):
                        self.revision = update.card.revision
                        self.card = update.card
                        if traced is None:
                            await self._offer_update(update)
                            continue
                        with traced.updating(update, len(self.listeners)):
                            await self._offer_update(update)
                self.forget()
                self._offer(None)
        except asyncio.CancelledError:
            if not self.first_read.done():
                self.first_read.cancel()
            raise
        except Exception as error:
            for started in (self.ready, self.first_read):
                if not started.done():
                    started.set_exception(error)
                    started.exception()  # retrieved: a subscriber may not be waiting for it
            self._offer(error)


def _still_true(snapshot: Card, now: datetime) -> bool:
    """Whether a snapshot read at its ``generated_at`` may serve at ``now``."""
    if now - snapshot.generated_at >= SNAPSHOT_SHARED_FOR:
        return False
    turns_stale = snapshot.next_freshness_change
    return turns_stale is None or now < turns_stale
