"""The backstop of the convergence guarantee (DESIGN §3): a change notice lost
on its way through Redis must not leave a card stale until the next change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from app.broker import Hub
from live_updates.card_followers import CardFollowers
from persistence.revisions import card_revisions

log = logging.getLogger("microgrid.broker")


class SilenceCheck:
    """Every ``period`` seconds, one query for the card revisions of every
    microgrid this process follows (not one per follower or subscriber); a
    follower whose card is behind the database is told to re-read. A failed
    check is retried at the next period."""

    def __init__(
        self, engine: AsyncEngine, broadcasts: CardFollowers, hub: Hub, period: float
    ) -> None:
        self._engine = engine
        self._broadcasts = broadcasts
        self._hub = hub
        self._period = period
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="broker-silence-check")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            try:
                await self.check()
                self._failing = False
            except Exception as error:
                if not self._failing:
                    log.warning("silence check failed (retried): %s", type(error).__name__)
                self._failing = True

    async def check(self) -> list[UUID]:
        """The microgrids whose followers were told to re-read."""
        followed = self._broadcasts.followed()
        if not followed:
            return []
        behind = self._broadcasts.behind(await card_revisions(self._engine, followed))
        if behind:
            log.info("%d card follower(s) missed a change notice; re-reading", len(behind))
            self._hub.resync(behind)
        return behind
