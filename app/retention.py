"""The retention job inside ``serve`` (persistence/retention.py does the work)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from domain.ports import Clock
from persistence.retention import RetentionReport, Windows, run_retention

log = logging.getLogger("microgrid.retention")


def windows(settings: Settings) -> Windows:
    return Windows(settings.packet_retention_days, settings.reading_retention_days)


class RetentionLoop:
    """A retention pass every ``period`` seconds, the first one period after
    start-up (``serve`` creates the partitions ahead before it listens). It runs
    as a task of its own, on the database's time, never on a request's; across
    processes the pass's advisory lock lets one of them do the work. A failed
    pass is logged and retried at the next period."""

    def __init__(self, engine: AsyncEngine, clock: Clock, windows: Windows, period: float) -> None:
        self._engine = engine
        self._clock = clock
        self._windows = windows
        self._period = period
        self._task: asyncio.Task[None] | None = None
        self.passes = 0
        """Passes completed (failed ones not counted)."""

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._period)
            try:
                report = await self.run_once()
            except Exception as error:
                log.warning("retention pass failed (retried): %s: %s", type(error).__name__, error)
                continue
            self.passes += 1
            if report.dropped or report.deleted or report.deferred:
                log.info(
                    "retention: dropped %d partition(s), deleted %d row(s), %d deferred",
                    len(report.dropped),
                    report.deleted,
                    len(report.deferred),
                )

    async def run_once(self) -> RetentionReport:
        return await run_retention(self._engine, self._clock.now(), self._windows)
