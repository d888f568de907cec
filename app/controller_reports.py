"""The controller reports a scrape shows, read from the database at most once
per ``ttl`` seconds however often (and however concurrently) it is scraped;
the ages are computed at each scrape from the cached report times."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.controller_reports import ControllerReport, controller_reports

log = logging.getLogger("microgrid.metrics")


class ControllerReports:
    def __init__(self, engine: AsyncEngine, ttl: float, **execution_options: object) -> None:
        self._engine = engine
        self._ttl = ttl
        self._options = execution_options
        self._reports: list[ControllerReport] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Re-read when the cache is older than ``ttl``; a failed read keeps the
        last reports (the gauge goes on growing, as a silent controller's would)."""
        if self._fresh():
            return
        async with self._lock:
            if self._fresh():
                return
            try:
                self._reports = await controller_reports(self._engine, **self._options)
            except Exception as error:
                log.warning("could not read controller reports: %s", type(error).__name__)
            self._read_at = time.monotonic()

    def latest(self) -> list[ControllerReport]:
        return self._reports

    def _fresh(self) -> bool:
        return self._read_at is not None and time.monotonic() - self._read_at < self._ttl
