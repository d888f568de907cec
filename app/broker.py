"""Live-update fan-out: publish after commit, deliver to local subscriptions.

Pub/sub only says *something changed*; subscribers re-read the database, so a
lost notice costs latency, never correctness. With REDIS_URL every process
holds one subscriber connection to one channel and fans notices out in
process; without it an in-process broker serves a single instance."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from redis.exceptions import RedisError

from app.redis_connections import redis_clients
from domain.changes import Change, ChangeReason
from domain.live import FellBehind

log = logging.getLogger("microgrid.broker")
CHANNEL = "microgrid:changes"
QUEUE_SIZE = 64
RESEND_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0)
"""Pauses before each re-send of a failed publish: about 4.5 s in all."""
RECONNECT_MAX_SECONDS = 1.0
"""The subscriber retries a lost Redis at least this often: it hears again soon
after Redis is back (the silence check keeps cards right meanwhile)."""


class Resync:
    """Sent to every local subscription after the broker reconnects: re-read now."""


RESYNC = Resync()


@dataclass(eq=False)
class LocalSubscription:
    microgrid_id: UUID
    queue: asyncio.Queue[Change | Resync] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    overflowed: bool = False
    lossy: bool = False
    """A lossy subscription that falls behind gets one RESYNC instead of being dropped."""

    async def next(self) -> Change | None:
        """The next notice; ``None`` after a reconnect means "re-read everything"."""
        if not self.overflowed:
            item = await self.queue.get()
            if not self.overflowed:
                return item if isinstance(item, Change) else None
        raise FellBehind()


class Interest(Protocol):
    """Told which microgrids this process follows (a broker that subscribes per
    microgrid, e.g. sharded pub/sub on a Redis Cluster)."""

    async def follow(self, microgrid_id: UUID) -> None:
        """A local subscription of this microgrid opens; returns once notices
        of it are heard (or, bounded, once hearing them is under way)."""
        ...

    def unfollow(self, microgrid_id: UUID) -> None:
        """The last local subscription of this microgrid closed."""
        ...


class Hub:
    """In-process fan-out to bounded per-subscription queues."""

    def __init__(self) -> None:
        self._subscriptions: dict[UUID, set[LocalSubscription]] = {}
        self.dropped = 0
        """Subscriptions dropped for falling behind (SUBSCRIBER_TOO_SLOW)."""
        self.on_notice: Callable[[Change, float], None] | None = None
        """Told of each notice for a microgrid with local subscriptions, with its publish time."""
        self.interest: Interest | None = None
        self.notices_received = 0
        """Change notices this process heard from Redis (its own included)."""

    @contextlib.asynccontextmanager
    async def subscribe(
        self, microgrid_id: UUID, lossy: bool = False
    ) -> AsyncIterator[LocalSubscription]:
        subscription = LocalSubscription(microgrid_id, lossy=lossy)
        self._subscriptions.setdefault(microgrid_id, set()).add(subscription)
        try:
            if self.interest is not None:
                await self.interest.follow(microgrid_id)
            yield subscription
        finally:
            group = self._subscriptions.get(microgrid_id, set())
            group.discard(subscription)
            if not group:
                self._subscriptions.pop(microgrid_id, None)
                if self.interest is not None:
                    self.interest.unfollow(microgrid_id)

    def deliver(self, change: Change, published_at: float | None = None) -> None:
        subscriptions = self._subscriptions.get(change.microgrid_id)
        if not subscriptions:
            return
        if published_at is not None and self.on_notice is not None:
            self.on_notice(change, published_at)
        for subscription in list(subscriptions):
            self._offer(subscription, change)

    def resync_all(self) -> None:
        self.resync(list(self._subscriptions))

    def resync(self, microgrid_ids: Iterable[UUID]) -> None:
        """Every subscription of these microgrids re-reads now."""
        for microgrid_id in microgrid_ids:
            for subscription in list(self._subscriptions.get(microgrid_id, ())):
                self._offer(subscription, RESYNC)

    @property
    def subscription_count(self) -> int:
        return sum(len(g) for g in self._subscriptions.values())

    def _offer(self, subscription: LocalSubscription, item: Change | Resync) -> None:
        try:
            subscription.queue.put_nowait(item)
        except asyncio.QueueFull:
            if subscription.lossy:
                while not subscription.queue.empty():
                    subscription.queue.get_nowait()
                subscription.queue.put_nowait(RESYNC)
                return
            if not subscription.overflowed:
                subscription.overflowed = True
                self.dropped += 1
                log.warning("dropping a slow subscriber of microgrid %s", subscription.microgrid_id)


class InProcessBroker:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def publish(self, changes: list[Change]) -> None:
        now = time.time()
        for change in changes:
            self.hub.deliver(change, now)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> str:
        return "ok"


@dataclass(frozen=True)
class TracedChange(Change):
    """A notice with the W3C ``traceparent`` of the span that published it
    (tracing on: app.telemetry), so that whoever delivers it can link to it."""

    traceparent: str | None = None


MAX_TRACEPARENT = 128
"""Longer than any traceparent (55 characters in version 00): a longer value is dropped."""


def encode(change: Change) -> str:
    """The notice as sent: with its publish time ("t", epoch seconds) and, when
    tracing is on, its publish span's context ("tc", a W3C traceparent)."""
    data = {
        "m": str(change.microgrid_id),
        "r": change.reason.value,
        "v": change.revision,
        "e": str(change.event_id) if change.event_id else None,
        "t": time.time(),
    }
    if isinstance(change, TracedChange) and change.traceparent:
        data["tc"] = change.traceparent
    return json.dumps(data)


def decode(raw: bytes | str) -> Change:
    return decode_notice(raw)[0]


def decode_notice(raw: bytes | str) -> tuple[Change, float | None]:
    """The change, and its publish time when the notice carries a usable one. A
    notice without a usable trace context ("tc" missing, not a short string)
    is still a notice: only the link is lost."""
    data = json.loads(raw)
    fields = (
        UUID(data["m"]),
        ChangeReason(data["r"]),
        int(data["v"]),
        UUID(data["e"]) if data["e"] else None,
    )
    sent = data.get("t")
    usable = isinstance(sent, int | float) and not isinstance(sent, bool) and math.isfinite(sent)
    published_at = float(sent) if usable and sent > 0 else None
    traceparent = data.get("tc")
    if isinstance(traceparent, str) and 0 < len(traceparent) <= MAX_TRACEPARENT:
        return TracedChange(*fields, traceparent=traceparent), published_at
    return Change(*fields), published_at


def deliver_notice(hub: Hub, raw: bytes | str) -> None:
    """A notice as heard from Redis, to the local subscriptions (a malformed
    one is logged and dropped)."""
    try:
        change, published_at = decode_notice(raw)
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("ignoring a malformed change notice: %r", raw)
        return
    hub.notices_received += 1
    hub.deliver(change, published_at)


class RedisBroker:
    """One subscriber connection per process; reconnects with backoff and then
    tells every local subscription to re-read."""

    def __init__(self, hub: Hub, url: str, channel: str = CHANNEL) -> None:
        self.hub = hub
        self.url = url
        self.channel = channel
        self._clients = redis_clients(url)
        self._publisher = self._clients.publisher
        self._task: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None
        self._unsent: dict[UUID, Change] = {}
        self.connected = asyncio.Event()
        self.reconnects = 0
        """Times the subscriber connection came back after it had been up."""

    async def publish(self, changes: list[Change]) -> None:
        """Called after commit, so it never raises: a notice that cannot be sent
        now reaches local subscriptions at once and is re-sent in the
        background on a fresh connection."""
        if not changes:
            return
        if self._retry is None or self._retry.done():
            try:
                for change in changes:
                    await self._publisher.publish(self.channel, encode(change))
                return
            except (RedisError, OSError) as error:
                log.warning(
                    "could not publish a change notice (%s); re-sending in the background "
                    "on a fresh connection",
                    type(error).__name__,
                )
        now = time.time()
        for change in changes:
            self.hub.deliver(change, now)
            self._hold(change)
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(
                self._resend(), name="redis-republish", context=contextvars.Context()
            )  # not the publishing request's context: it outlives the request

    def _hold(self, change: Change) -> None:
        held = self._unsent.get(change.microgrid_id)
        if held is None or held.revision <= change.revision:
            self._unsent[change.microgrid_id] = change

    async def _resend(self) -> None:
        """Bounded: after the last attempt the held notices are dropped; subscribers
        still converge (re-read on reconnect, silence check)."""
        for attempt, delay in enumerate(RESEND_DELAYS, start=1):
            await asyncio.sleep(delay)
            await self._publisher.connection_pool.disconnect(inuse_connections=False)
            unsent, self._unsent = self._unsent, {}
            try:
                for microgrid_id, change in list(unsent.items()):
                    await self._publisher.publish(self.channel, encode(change))
                    del unsent[microgrid_id]
            except (RedisError, OSError):
                for change in unsent.values():
                    self._hold(change)
                continue
            log.info("re-sent the held change notices (attempt %d)", attempt)
            return
        log.warning(
            "gave up re-sending %d change notice(s); other processes re-read when their "
            "subscriber reconnects or their silence check runs",
            len(self._unsent),
        )
        self._unsent.clear()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-subscriber")

    async def stop(self) -> None:
        for task in (self._task, self._retry):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._clients.aclose()

    async def ping(self) -> str:
        try:
            await self._publisher.ping()
            return "ok" if self.connected.is_set() else "reconnecting"
        except (RedisError, OSError) as error:
            return f"unavailable: {type(error).__name__}"

    async def _listen(self) -> None:
        backoff = 0.1
        was_up = False
        while True:
            client = self._clients.subscriber()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.connected.set()
                self.reconnects += was_up
                was_up = True
                backoff = 0.1
                self.hub.resync_all()
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None and message["type"] == "message":
                        self._deliver(message["data"])
            except (RedisError, OSError) as error:
                if self.connected.is_set():
                    log.warning("Redis subscriber connection lost: %r", error)
                self.connected.clear()
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    def _deliver(self, raw: bytes | str) -> None:
        deliver_notice(self.hub, raw)


class Broker(Protocol):
    async def publish(self, changes: list[Change]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> str: ...


def create_broker(redis_url: str | None, channel: str = CHANNEL) -> tuple[Hub, Broker]:
    """In process without a URL; a Redis Cluster with sharded pub/sub for
    ``redis+cluster://``; else one Redis channel."""
    hub = Hub()
    if not redis_url:
        return hub, InProcessBroker(hub)
    from app.cluster_broker import ClusterBroker, is_cluster_url

    if is_cluster_url(redis_url):
        return hub, ClusterBroker(hub, redis_url, channel)
    return hub, RedisBroker(hub, redis_url, channel)
