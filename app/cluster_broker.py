"""Fan-out on a Redis Cluster with sharded pub/sub (``REDIS_URL=redis+cluster://``).

Each microgrid has its own shard channel, ``<REDIS_CHANNEL>:{<microgrid id>}``:
the hash tag keeps all of one microgrid's notices on one shard. A notice goes
out with SPUBLISH; a process SSUBSCRIBEs only to the channels of the
microgrids it follows (the hub tells it, see ``Interest``), so a notice reaches
only the processes that show that microgrid, instead of every process.

Built on redis-py's async cluster client and its ``ClusterPubSub`` (redis-py
8.0 and later), which keeps one connection per shard primary and moves shard
subscriptions to a slot's new owner after a failover. The guarantees of the
single-Redis broker hold: publish after commit, never raise to the caller,
re-send on failure; after a shard connection comes back (reconnect or
failover) every microgrid re-subscribed on it re-reads, found from the
SSUBSCRIBE confirmation of its channel; the silence check covers the rest."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
from urllib.parse import unquote
from uuid import UUID

from redis.asyncio.cluster import ClusterNode, ClusterPubSub, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisClusterException, RedisError

from app.broker import RECONNECT_MAX_SECONDS, RESEND_DELAYS, Hub, deliver_notice, encode
from domain.changes import Change

log = logging.getLogger("microgrid.broker")

SCHEME = "redis+cluster://"
FOLLOW_WAIT_SECONDS = 2.0
"""How long a new subscription waits for its SSUBSCRIBE to be confirmed; when
it waits longer (a shard is down), the confirmation later makes it re-read."""
READ_POLL_SECONDS = 1.0
"""A shard reader wakes this often to see whether its shard is still in use."""
_TAGGED = re.compile(r"\{([0-9a-fA-F-]{36})\}$")
Failures = (RedisError, RedisClusterException, OSError)


def is_cluster_url(url: str) -> bool:
    return url.startswith(SCHEME)


def cluster_client(url: str) -> RedisCluster:
    """``redis+cluster://[user:password@]host:port[,host:port...]``: the hosts
    are startup nodes; the client finds the rest of the cluster from them."""
    if not is_cluster_url(url):
        raise ValueError(f"a Redis Cluster URL starts with {SCHEME}")
    rest = url.removeprefix(SCHEME).split("/", 1)[0].split("?", 1)[0]
    credentials, _, hosts = rest.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    nodes = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"REDIS_URL: {item!r} is not host:port")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    return RedisCluster(
        startup_nodes=nodes,
        username=unquote(username) or None,
        password=unquote(password) or None,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=5,
        # A few quick attempts (each after a topology refresh), then the notice
        # is held and re-sent in the background: a request that committed does
        # not wait out a failover. MOVED is followed whatever this says.
        retry=Retry(ExponentialWithJitterBackoff(cap=0.2, base=0.02), 2),
    )


class ClusterBroker:
    """One SSUBSCRIBE per followed microgrid, one reader task per shard
    connection, and one task that applies follow/unfollow and recovers."""

    def __init__(self, hub: Hub, url: str, channel: str) -> None:
        if "{" in channel or "}" in channel:
            raise ValueError("REDIS_CHANNEL must not contain braces on a Redis Cluster")
        self.hub = hub
        self.prefix = channel
        self._cluster = cluster_client(url)
        self._pubsub: ClusterPubSub | None = None
        self._wanted: set[UUID] = set()
        self._subscribed: set[UUID] = set()
        self._heard: set[UUID] = set()
        self._waiting: dict[UUID, asyncio.Future[None]] = {}
        self._late: set[UUID] = set()
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._lost: set[str] = set()
        """Shards whose loss was logged (once per outage)."""
        self._wake = asyncio.Event()
        self._trouble = False
        self._task: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None
        self._unsent: dict[UUID, Change] = {}
        self.connected = asyncio.Event()
        self.reconnects = 0
        """Times the subscriber came back after losing a shard or the cluster."""
        self._was_up = False
        hub.interest = self

    @property
    def cluster(self) -> RedisCluster:
        """The cluster client (publishing and subscribing share its slot map)."""
        return self._cluster

    def channel_of(self, microgrid_id: UUID) -> str:
        return f"{self.prefix}:{{{microgrid_id}}}"

    # -- publishing ---------------------------------------------------------

    async def publish(self, changes: list[Change]) -> None:
        """Called after commit, so it never raises: a notice that cannot be sent
        now reaches local subscriptions at once and is re-sent in the background."""
        if not changes:
            return
        if self._retry is None or self._retry.done():
            try:
                for change in changes:
                    await self._send(change)
                return
            except Failures as error:
                log.warning(
                    "could not publish a change notice (%s); re-sending in the background",
                    type(error).__name__,
                )
        for change in changes:
            self.hub.deliver(change)
            self._hold(change)
        if self._retry is None or self._retry.done():
            self._retry = asyncio.create_task(
                self._resend(), name="redis-cluster-republish", context=contextvars.Context()
            )  # not the publishing request's context: it outlives the request

    async def _send(self, change: Change) -> None:
        await self._cluster.spublish(self.channel_of(change.microgrid_id), encode(change))

    def _hold(self, change: Change) -> None:
        held = self._unsent.get(change.microgrid_id)
        if held is None or held.revision <= change.revision:
            self._unsent[change.microgrid_id] = change

    async def _resend(self) -> None:
        """Bounded like the single-Redis broker's; the cluster client finds a
        shard's new primary itself (MOVED, or a topology refresh after a
        connection error). Notices published meanwhile join the held ones."""
        for attempt, delay in enumerate(RESEND_DELAYS, start=1):
            await asyncio.sleep(delay)
            unsent, self._unsent = self._unsent, {}
            for change in unsent.values():
                # one by one: a shard still down holds back only its own notices
                try:
                    await self._send(change)
                except Failures:
                    self._hold(change)
            if not self._unsent:
                log.info("re-sent the held change notices (attempt %d)", attempt)
                return
        log.warning(
            "gave up re-sending %d change notice(s); other processes re-read when their "
            "shard subscription comes back or their silence check runs",
            len(self._unsent),
        )
        self._unsent.clear()

    # -- following (the hub's Interest) ---------------------------------------

    async def follow(self, microgrid_id: UUID) -> None:
        self._wanted.add(microgrid_id)
        if microgrid_id in self._heard:
            return
        waiter = self._waiting.get(microgrid_id)
        if waiter is None:
            waiter = self._waiting[microgrid_id] = asyncio.get_running_loop().create_future()
            self._wake.set()
        try:
            async with asyncio.timeout(FOLLOW_WAIT_SECONDS):
                await asyncio.shield(waiter)
        except TimeoutError:
            self._late.add(microgrid_id)

    def unfollow(self, microgrid_id: UUID) -> None:
        """Heard until the SUNSUBSCRIBE goes out: following it again before that
        needs no new confirmation."""
        self._wanted.discard(microgrid_id)
        self._late.discard(microgrid_id)
        waiter = self._waiting.pop(microgrid_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._wake.set()

    def _confirmed(self, channel: bytes | str) -> None:
        """SSUBSCRIBE confirmed: notices of this microgrid are heard from now on.
        Unless a new subscription waits for exactly this (and will read the card
        next), the microgrid re-reads: notices may have been lost before."""
        name = channel.decode() if isinstance(channel, bytes) else channel
        found = _TAGGED.search(name)
        if found is None:
            return
        microgrid_id = UUID(found.group(1))
        if microgrid_id not in self._wanted:
            return
        self._heard.add(microgrid_id)
        waiter = self._waiting.pop(microgrid_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if waiter is None or microgrid_id in self._late:
            self._late.discard(microgrid_id)
            self.hub.resync([microgrid_id])

    # -- the subscriber side ------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redis-cluster-subscriber")

    async def stop(self) -> None:
        tasks = [self._task, self._retry, *self._readers.values()]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._cluster.aclose()

    async def ping(self) -> str:
        try:
            await self._cluster.ping()
            return "ok" if self.connected.is_set() else "reconnecting"
        except Failures as error:
            return f"unavailable: {type(error).__name__}"

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                if self._pubsub is None:
                    await self._cluster.initialize()
                    self._pubsub = self._cluster.pubsub()
                if self._trouble:
                    await self._recover()
                await self._apply()
                self._start_readers()
            except Failures as error:
                if self.connected.is_set():
                    log.warning("Redis Cluster subscriber: %r", error)
                self._trouble = True
            if self._trouble:
                self.connected.clear()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
                continue
            backoff = 0.1
            self.reconnects += self._was_up and not self.connected.is_set()
            self._was_up = True
            self.connected.set()
            # woken by a follow, an unfollow or a reader that stopped; at the
            # latest after a poll period, to give a shard the library moved
            # subscriptions to (after a failover) its reader
            # (asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow
            # the cancellation that stops this task when the event is set too)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(READ_POLL_SECONDS):
                    await self._wake.wait()
            self._wake.clear()

    async def _recover(self) -> None:
        """After a shard connection failed: refresh the slot map and move shard
        subscriptions to each slot's current primary (a no-op when the same
        node came back); the readers then reconnect and re-subscribe."""
        assert self._pubsub is not None
        await self._cluster.nodes_manager.initialize()
        await self._pubsub.reinitialize_shard_subscriptions()
        self._trouble = False

    async def _apply(self) -> None:
        """SSUBSCRIBE / SUNSUBSCRIBE what the hub's follows changed; a failure on
        one shard does not hold back the others."""
        pubsub = self._pubsub
        assert pubsub is not None
        failed: BaseException | None = None
        for microgrid_id in self._subscribed - self._wanted:
            self._subscribed.discard(microgrid_id)
            self._heard.discard(microgrid_id)
            try:
                await pubsub.sunsubscribe(self.channel_of(microgrid_id))
            except Failures as error:
                failed = error
        for microgrid_id in self._wanted - self._subscribed:
            try:
                await pubsub.ssubscribe(self.channel_of(microgrid_id))
            except Failures as error:
                failed = error
                continue
            self._subscribed.add(microgrid_id)
        if failed is not None:
            raise failed

    def _start_readers(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        for name in list(pubsub.node_pubsub_mapping):
            reader = self._readers.get(name)
            if reader is not None and not reader.done():
                continue
            node = self._cluster.get_node(node_name=name)
            if node is not None:
                self._readers[name] = asyncio.create_task(
                    self._read(pubsub, node), name=f"redis-cluster-reader-{name}"
                )

    async def _read(self, pubsub: ClusterPubSub, node: ClusterNode) -> None:
        """Notices and confirmations from one shard primary, until it holds no
        subscription of this process or its connection fails."""
        try:
            while node.name in pubsub.node_pubsub_mapping:
                message = await pubsub.get_sharded_message(
                    target_node=node, timeout=READ_POLL_SECONDS
                )
                if message is None:
                    continue
                if node.name in self._lost:
                    self._lost.discard(node.name)
                    log.info("Redis Cluster shard %s answers again", node.name)
                kind = message["type"]
                kind = kind.decode() if isinstance(kind, bytes) else kind
                if kind == "smessage":
                    self._deliver(message["data"])
                elif kind == "ssubscribe":
                    self._confirmed(message["channel"])
            self._wake.set()  # its subscriptions moved or ended: readers for the rest
        except Failures as error:
            if node.name not in self._lost:
                self._lost.add(node.name)
                log.warning("Redis Cluster shard %s connection lost: %r", node.name, error)
            self._trouble = True
            self.connected.clear()
            self._wake.set()
        except RuntimeError:
            # The library closed this shard's connection (its last channel moved
            # or was dropped) between our check and the read.
            self._wake.set()

    def _deliver(self, raw: bytes | str) -> None:
        deliver_notice(self.hub, raw)
