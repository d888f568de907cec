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

    async def start(self) -> None:
        await self.broker.start()

    async def close(self) -> None:
        await self.revocations.stop()
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
    return Container(
        settings=settings,
        engine=engine,
        deps=deps,
        tokens=TokenStore(engine),
        hub=hub,
        broker=broker,
        card_broadcasts=CardBroadcasts(deps, hub, _graphql_update),
        revocations=RevocationWatch(engine, deps.clock),
        statements=StatementCounter(engine),
    )
