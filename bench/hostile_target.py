"""What the hostile clients attack and how much they did: the target's port,
tokens and limits, a tally of outcomes, and senders that loop until a deadline."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

ANSWER_CAP = 60.0


@dataclass
class Target:
    port: int
    operator: str
    admin: str
    integration: str
    device_id: str
    depot_id: str
    max_body: int
    aliases: int
    frame_bytes: int
    packets: int = 0
    packet_bytes: int = 0


@dataclass
class Tally:
    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        answered = ", ".join(f"{k} x{v}" for k, v in self.outcomes.most_common())
        return "; ".join([f"{self.sent} sent: {answered}", *self.notes])


async def senders(
    count: int, deadline: float, send: Callable[[int, float], Awaitable[None]]
) -> None:
    """`count` loops each calling `send(n, wait)` until the deadline; a request
    sent before it may wait up to ANSWER_CAP seconds for its answer."""
    loop = asyncio.get_running_loop()
    numbers = iter(range(10**9))

    async def sender() -> None:
        while deadline - loop.time() > 0.05:
            await send(next(numbers), ANSWER_CAP)

    await asyncio.gather(*(sender() for _ in range(count)))
