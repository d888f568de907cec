"""Wiring: one engine, one broker, the use-case dependencies and the token store per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from app.broker import Broker, Hub, create_broker
from app.clock import SystemClock
from app.controller_reports import ControllerReports
from app.ids import time_ordered_id
from app.metrics import UNCOUNTED, LiveState, Metrics, StatementCounter, TimedPublisher
from app.retention import RetentionLoop, windows
from app.revocation import RevocationWatch
from app.settings import Settings
from app.silence_check import SilenceCheck
from app.storage_errors import storage_unavailable
from domain.changes import Publisher
from domain.live import CardUpdate
from domain.ports import Clock, Dependencies
from flags.evaluator import OpenFeatureFlags
from graphql_documents.operations import operation_names
from live_updates.card_followers import CardFollowers, DirectDelivery
from persistence.database import create_engine
from persistence.tokens import TokenStore
from persistence.unit_of_work import SqlUnitOfWorkFactory

if TYPE_CHECKING:
    from app.telemetry import Telemetry


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    deps: Dependencies
    tokens: TokenStore
    hub: Hub
    broker: Broker
    card_followers: CardFollowers
    revocations: RevocationWatch
    statements: StatementCounter
    flags: OpenFeatureFlags
    metrics: Metrics
    controller_reports: ControllerReports
    silence_check: SilenceCheck | None = None
    """Only with Redis: the in-process broker loses no notice."""
    retention: RetentionLoop | None = None
    """Unless RETENTION_INTERVAL_SECONDS is 0."""
    telemetry: Telemetry | None = None
    """Only with OTEL_EXPORTER_OTLP_ENDPOINT (app.telemetry)."""

    async def start(self) -> None:
        await self.broker.start()
        if self.silence_check is not None:
            await self.silence_check.start()
        if self.retention is not None:
            await self.retention.start()

    async def close(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        await self.revocations.stop()
        if self.silence_check is not None:
            await self.silence_check.stop()
        await self.broker.stop()
        self.flags.close()
        await self.engine.dispose()
        if self.telemetry is not None:
            await self.telemetry.shutdown()


# Imported on first use: CLI commands that never serve skip the schema's imports.


def _card_payload(update: CardUpdate) -> object:
    from live_updates.card_payloads import card_payload

    return card_payload(update)


def _frame_sink() -> DirectDelivery | None:
    from live_updates.card_frames import frame_sink

    return frame_sink()


def build_container(
    settings: Settings, clock: Clock | None = None, telemetry: Telemetry | None = None
) -> Container:
    """``telemetry``: tracing as given (tests), else as OTEL_EXPORTER_OTLP_ENDPOINT says."""
    engine = create_engine(settings.database_url, pool_pre_ping=settings.database_pool_pre_ping)
    hub, broker = create_broker(settings.redis_url, settings.redis_channel)
    metrics = Metrics(operation_names())
    if telemetry is None and settings.otel_exporter_otlp_endpoint:
        from app.telemetry import Telemetry

        telemetry = Telemetry.from_environment(settings.otel_exporter_otlp_endpoint)
    publisher: Publisher = broker
    if telemetry is not None:
        publisher = telemetry.instrument(engine, broker, settings.redis_channel)
    uow = SqlUnitOfWorkFactory(
        engine, publisher=TimedPublisher(publisher, metrics.ingest_to_publish)
    )
    flags = OpenFeatureFlags(uow)
    deps = Dependencies(
        uow=uow,
        clock=clock or SystemClock(),
        new_id=time_ordered_id,
        stale_after_seconds=settings.stale_after_seconds,
        flags=flags,
        packet_retention_days=settings.packet_retention_days,
    )
    card_followers = CardFollowers(
        deps,
        hub,
        present=_card_payload,
        direct_for=_frame_sink,
        delivered=metrics.notices.delivered,
        transient=storage_unavailable,
        tracing=telemetry,
    )
    hub.on_notice = metrics.notices.noted
    statements = StatementCounter(engine)
    controller_reports = ControllerReports(
        engine, settings.metrics_controller_cache_seconds, **{UNCOUNTED: True}
    )
    metrics.watch(
        LiveState(
            statements, card_followers, hub, broker, engine, controller_reports, deps.clock.now
        )
    )
    silence_check = None
    if settings.redis_url:
        silence_check = SilenceCheck(
            engine, card_followers, hub, settings.broker_silence_check_seconds
        )
    retention = None
    if settings.retention_interval_seconds > 0:
        retention = RetentionLoop(
            engine, deps.clock, windows(settings), settings.retention_interval_seconds
        )
    return Container(
        settings=settings,
        engine=engine,
        deps=deps,
        tokens=TokenStore(engine),
        hub=hub,
        broker=broker,
        card_followers=card_followers,
        revocations=RevocationWatch(engine, deps.clock),
        statements=statements,
        flags=flags,
        metrics=metrics,
        controller_reports=controller_reports,
        silence_check=silence_check,
        retention=retention,
        telemetry=telemetry,
    )
