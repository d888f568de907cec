"""This process's metrics, with prometheus-client on a registry of its own (one
per container, so tests and several apps in one process do not collide).

Hot paths pay one histogram observe or counter increment per operation, or a
plain integer increment on the object that already counts (statements, card
reads, drops, reconnects); gauges are read from live state at scrape time
(``LiveState``). Every label takes values from a bounded set (``Bounded``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import datetime
from typing import Any
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from app.broker import Broker, Hub, RedisBroker
from app.cluster_broker import ClusterBroker
from app.controller_reports import ControllerReports
from domain.changes import Change, Publisher
from domain.live import CardUpdate
from live_updates.card_followers import CardFollowers

# One sample per counter: the *_created series only double what a scrape sends.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
)  # fmt: skip
operation_started: ContextVar[float | None] = ContextVar(
    "microgrid_operation_started", default=None
)
"""``time.perf_counter()`` at the start of the GraphQL operation running in this context."""
UNCOUNTED = "microgrid_uncounted"
"""An execution option: statements sent with it are not counted (a scrape's own query)."""


class StatementCounter:
    """SQL statements this process has sent to its database (a scrape's own excepted)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        context = args[4]
        if context is None or not context.execution_options.get(UNCOUNTED):
            self.count += 1


class Bounded:
    """Label values a client can influence, kept to a bounded set: a value
    must look like a name and be one of the first ``limit`` seen, else it is
    ``other``."""

    SHAPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")

    def __init__(self, limit: int, known: Iterable[str] = ()) -> None:
        self._seen = set(known)
        self._limit = len(self._seen) + limit

    def __call__(self, value: str | None) -> str:
        if value is None:
            return "none"
        if value in self._seen:
            return value
        if len(self._seen) < self._limit and self.SHAPE.match(value):
            self._seen.add(value)
            return value
        return "other"


class NoticeLag:
    """Publish time of the change notices a process has heard and not yet
    delivered as a card update, so each delivered update observes how long
    after its notice's publish it reached the subscribers' sockets. Bounded:
    a few notices per microgrid, a few thousand microgrids (oldest dropped)."""

    PER_MICROGRID = 8
    MICROGRIDS = 4096

    def __init__(self, histogram: Histogram) -> None:
        self._histogram = histogram
        self._pending: dict[UUID, list[tuple[int, float]]] = {}

    def noted(self, change: Change, published_at: float) -> None:
        pending = self._pending.get(change.microgrid_id)
        if pending is None:
            if len(self._pending) >= self.MICROGRIDS:
                del self._pending[next(iter(self._pending))]
            self._pending[change.microgrid_id] = [(change.revision, published_at)]
        elif len(pending) < self.PER_MICROGRID:
            pending.append((change.revision, published_at))

    def delivered(self, microgrid_id: UUID, update: CardUpdate) -> None:
        pending = self._pending.get(microgrid_id)
        if not pending:
            return
        revision = update.card.revision
        covered = [t for r, t in pending if r <= revision]
        if not covered:
            return
        rest = [(r, t) for r, t in pending if r > revision]
        if rest:
            self._pending[microgrid_id] = rest
        else:
            del self._pending[microgrid_id]
        self._histogram.observe(max(0.0, time.time() - min(covered)))


class TimedPublisher:
    """The broker, observing how long after the operation that made a change
    started (``operation_started``; the commit when none) its notice was handed over."""

    def __init__(self, broker: Publisher, histogram: Histogram) -> None:
        self._broker = broker
        self._histogram = histogram

    async def publish(self, changes: list[Change]) -> None:
        start = operation_started.get() or time.perf_counter()
        await self._broker.publish(changes)
        if changes:
            self._histogram.observe(time.perf_counter() - start)


class Metrics:
    """The instruments; ``watch`` adds the live-state gauges once the pieces exist."""

    def __init__(self, operation_names: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.operation_name = Bounded(0, [*operation_names, "anonymous"])
        self.result_type = Bounded(100)
        self.outcome = Bounded(100)
        self.operations = Histogram(
            "microgrid_graphql_operation_seconds",
            "GraphQL query and mutation latency, parse to result, by operation name "
            "(a document of graphql/operations, else other) and result type (ok, "
            "an error code, or the Problem a root field returned).",
            ["operation", "result"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ingest_to_publish = Histogram(
            "microgrid_ingest_to_publish_seconds",
            "From the start of the operation that changed something to its change "
            "notice handed to the broker (after commit).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.notice_to_socket = Histogram(
            "microgrid_notice_to_socket_seconds",
            "From a change notice's publish (by any process) to the card update it "
            "caused written to this process's subscribers, per delivered update.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.ingests = Counter(
            "microgrid_ingests",
            "Capability statuses and sensor packets taken in, by kind and outcome "
            "(accepted, duplicate, or the Problem's code); a batch counts each packet.",
            ["kind", "outcome"],
            registry=registry,
        )
        self.packet_actions = Counter(
            "microgrid_packet_actions",
            "Sensor-action outcomes of accepted packets, by action and outcome.",
            ["action", "outcome"],
            registry=registry,
        )
        self.notices = NoticeLag(self.notice_to_socket)

    def watch(self, state: LiveState) -> None:
        self.registry.register(state)


class LiveState:
    """The counters other objects keep and the gauges of live state, read at
    scrape time (today's four names included, unchanged)."""

    def __init__(
        self,
        statements: StatementCounter,
        cards: CardFollowers,
        hub: Hub,
        broker: Broker,
        engine: AsyncEngine,
        controllers: ControllerReports,
        now: Callable[[], datetime],
    ) -> None:
        self._statements = statements
        self._cards = cards
        self._hub = hub
        self._broker = broker
        self._engine = engine
        self._controllers = controllers
        self._now = now

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "microgrid_db_statements_total",
            "SQL statements sent by this process.",
            value=self._statements.count,
        )
        yield CounterMetricFamily(
            "microgrid_card_reads_total",
            "Card reads for live subscribers: one per change per microgrid, however "
            "many local subscribers.",
            value=self._cards.reads,
        )
        yield CounterMetricFamily(
            "microgrid_card_updates_direct_total",
            "Card updates written to a subscriber's socket in the follower's one pass "
            "(the rest go through each subscriber's own task).",
            value=self._cards.direct_deliveries,
        )
        yield GaugeMetricFamily(
            "microgrid_live_subscriptions",
            "Live subscriptions open in this process on its notice hub (a card "
            "follower counts once however many card subscribers share it).",
            value=self._hub.subscription_count,
        )
        yield GaugeMetricFamily(
            "microgrid_card_subscribers",
            "Card subscriptions (screens) open in this process.",
            value=self._cards.subscriber_count,
        )
        yield GaugeMetricFamily(
            "microgrid_card_followers",
            "Microgrids whose card this process follows (one follower each, shared "
            "by its local subscribers).",
            value=self._cards.follower_count,
        )
        dropped = CounterMetricFamily(
            "microgrid_slow_subscribers_dropped_total",
            "Subscribers dropped (SUBSCRIBER_TOO_SLOW) for falling behind their bounded queue.",
            labels=["feed"],
        )
        dropped.add_metric(["card"], self._cards.dropped)
        dropped.add_metric(["notices"], self._hub.dropped)
        yield dropped
        redis = self._broker if isinstance(self._broker, RedisBroker | ClusterBroker) else None
        yield CounterMetricFamily(
            "microgrid_broker_reconnects_total",
            "Times the Redis subscriber connection came back after a loss.",
            value=redis.reconnects if redis is not None else 0,
        )
        yield GaugeMetricFamily(
            "microgrid_broker_connected",
            "1 while the broker's subscriber is connected (always 1 in-process).",
            value=1 if redis is None or redis.connected.is_set() else 0,
        )
        yield CounterMetricFamily(
            "microgrid_broker_notices_received_total",
            "Change notices this process heard from Redis (its own included); with "
            "Redis Cluster only those of the microgrids it follows.",
            value=self._hub.notices_received,
        )
        pool = self._engine.sync_engine.pool
        if isinstance(pool, QueuePool):
            yield GaugeMetricFamily(
                "microgrid_db_pool_in_use",
                "Database connections checked out of this process's pool.",
                value=pool.checkedout(),
            )
            yield GaugeMetricFamily(
                "microgrid_db_pool_size",
                "Connections the pool keeps (more may open up to its overflow).",
                value=pool.size(),
            )
        silent = GaugeMetricFamily(
            "microgrid_controller_last_report_age_seconds",
            "Seconds since each enabled controller binding's device last reported "
            "(since the binding was made, when it never has).",
            labels=["depot_id", "device_id"],
        )
        now = self._now()
        for report in self._controllers.latest():
            silent.add_metric(
                [str(report.depot_id), str(report.device_id)],
                max(0.0, (now - report.last_reported_at).total_seconds()),
            )
        yield silent
