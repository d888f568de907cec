"""What a card follower tells a tracer, when one is given (the composition
root gives one only when tracing is on; without it a follower does nothing
more than before).

A follower's reads are shared by every notice that arrived since the last
one, so a read is not the child of any one publish: its span *links* to the
spans that published the notices it answers (``Change`` objects carry that
context as the transport decoded it; only the tracer knows how to read it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol
from uuid import UUID

from domain.card import Card
from domain.changes import Change
from domain.live import CardUpdate, Feed
from domain.ports import Dependencies

MAX_LINKED_NOTICES = 32
"""A read links to at most this many of the notices it answers (the newest)."""


class FollowerTracing(Protocol):
    def reading(
        self, microgrid_id: UUID, notices: Sequence[Change]
    ) -> AbstractContextManager[object]:
        """Around one card read, made for ``notices`` (none: a first read, a
        re-read after a reconnect or a freshness timer). Yields a handle for
        :meth:`updating`."""
        ...

    def updating(
        self, read: object, update: CardUpdate, subscribers: int
    ) -> AbstractContextManager[None]:
        """Around presenting and delivering ``update``, which the read of
        handle ``read`` found."""
        ...


class NoticedFeed:
    """A feed that remembers the notices it handed out since :meth:`take`."""

    __slots__ = ("_feed", "_noticed")

    def __init__(self, feed: Feed) -> None:
        self._feed = feed
        self._noticed: list[Change] = []

    async def next(self) -> Change | None:
        notice = await self._feed.next()
        if notice is not None:
            self._noticed.append(notice)
            if len(self._noticed) > MAX_LINKED_NOTICES:
                del self._noticed[0]
        return notice

    def take(self) -> list[Change]:
        noticed, self._noticed = self._noticed, []
        return noticed


CardRead = Callable[[Dependencies, UUID], Awaitable[Card | None]]


class TracedReads:
    """One follower's feed and card reads, traced: each read inside
    :meth:`FollowerTracing.reading` with the notices taken since the last."""

    __slots__ = ("_last", "_read", "_tracing", "feed")

    def __init__(self, tracing: FollowerTracing, feed: Feed, read: CardRead) -> None:
        self._tracing = tracing
        self._read = read
        self._last: object = None
        self.feed = NoticedFeed(feed)

    async def read(self, deps: Dependencies, microgrid_id: UUID) -> Card | None:
        with self._tracing.reading(microgrid_id, self.feed.take()) as handle:
            self._last = handle
            return await self._read(deps, microgrid_id)

    def updating(self, update: CardUpdate, subscribers: int) -> AbstractContextManager[None]:
        return self._tracing.updating(self._last, update, subscribers)
