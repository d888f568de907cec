"""Wiring: one engine, the use-case dependencies and the token store per process."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from app.clock import SystemClock
from app.settings import Settings
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

    async def close(self) -> None:
        await self.engine.dispose()


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    engine = create_engine(settings.database_url)
    deps = Dependencies(
        uow=SqlUnitOfWorkFactory(engine), clock=clock or SystemClock(), new_id=uuid4
    )
    return Container(settings=settings, engine=engine, deps=deps, tokens=TokenStore(engine))
