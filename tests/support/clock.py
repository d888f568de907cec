"""A clock tests can move. Each reading advances 1 ms so creation order is stable;
``advance`` wakes everything sleeping until a moment now reached."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START, tick: timedelta = timedelta(milliseconds=1)):
        self.current = start
        self.tick = tick
        self._moved: asyncio.Condition | None = None

    def now(self) -> datetime:
        value = self.current
        self.current += self.tick
        return value

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        if self._moved is not None:
            asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        assert self._moved is not None
        async with self._moved:
            self._moved.notify_all()

    async def sleep_until(self, moment: datetime) -> None:
        if self._moved is None:
            self._moved = asyncio.Condition()
        async with self._moved:
            await self._moved.wait_for(lambda: self.current >= moment)
