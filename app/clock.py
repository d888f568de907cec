"""The wall clock, as the domain's Clock port."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        delay = (moment - self.now()).total_seconds()
        while delay > 0:
            await asyncio.sleep(delay)
            delay = (moment - self.now()).total_seconds()
