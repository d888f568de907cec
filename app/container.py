"""Wiring: one engine, one broker, the use-case dependencies and the token store per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from app.broker import Broker, Hub, create_broker
from app.clock import SystemClock
from app.metrics import StatementCounter
from app.revocation import RevocationWatch
from app.settings import Settings
from app.silence_check import SilenceCheck
from domain.card import Card
from domain.changes import ChangeReason
from domain.live import CardBroadcasts
from domain.ports import Clock, Dependencies
from persistence.database import create_engine
from persistence.tokens import TokenStore
from persistence.unit_of_work import SqlUnitOfWorkFactory


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    deps: Dependencies
    tokens: TokenStore
    hub: Hub
    broker: Broker
    card_broadcasts: CardBroadcasts[Any]
    revocations: RevocationWatch
    statements: StatementCounter
    silence_check: SilenceCheck | None = None
    """Only with Redis: the in-process broker loses no notice."""

    async def start(self) -> None:
        await self.broker.start()
        if self.silence_check is not None:
            await self.silence_check.start()

    async def close(self) -> None:
        await self.revocations.stop()
        if self.silence_check is not None:
            await self.silence_check.stop()
        await self.broker.stop()
        await self.engine.dispose()


def _graphql_update(reason: ChangeReason, card: Card) -> Any:
    """Imported on first use: CLI commands that never serve skip the schema's imports."""
    from resolvers.live import shared_update

    return shared_update(reason, card)


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    engine = create_engine(settings.database_url)
    hub, broker = create_broker(settings.redis_url, settings.redis_channel)
    deps = Dependencies(
        uow=SqlUnitOfWorkFactory(engine, publisher=broker),
        clock=clock or SystemClock(),
        new_id=uuid4,
        stale_after_seconds=settings.stale_after_seconds,
    )
    card_broadcasts: CardBroadcasts[Any] = CardBroadcasts(deps, hub, _graphql_update)
    silence_check = None
    if settings.redis_url:
        silence_check = SilenceCheck(
            engine, card_broadcasts, hub, settings.broker_silence_check_seconds
        )
    return Container(
        settings=settings,
        engine=engine,
        deps=deps,
        tokens=TokenStore(engine),
        hub=hub,
        broker=broker,
        card_broadcasts=card_broadcasts,
        revocations=RevocationWatch(engine, deps.clock),
        statements=StatementCounter(engine),
        silence_check=silence_check,
    )
