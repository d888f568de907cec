"""A clock tests can move. Each reading advances 1 ms so creation order is stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 1, tzinfo=UTC)


class FakeClock:
    def __init__(self, start: datetime = START, tick: timedelta = timedelta(milliseconds=1)):
        self.current = start
        self.tick = tick

    def now(self) -> datetime:
        value = self.current
        self.current += self.tick
        return value

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
