"""Many card subscribers held by one driver: opening them in batches, waking
the driver when each has one more message, and keeping the driver's garbage
collector from stalling the arrivals it times."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
from collections.abc import Awaitable, Callable, Iterator

from bench.rawws import RawSubscriber

CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status } peakShaving { status } } } }"""


class Arrivals:
    """Wakes the driver when every subscriber has one more message."""

    def __init__(self) -> None:
        self.left = 0
        self.done = asyncio.Event()

    def expect(self, count: int) -> None:
        self.left = count
        self.done.clear()

    def __call__(self, _subscriber: object) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


async def open_in_batches(
    open_one: Callable[[int], Awaitable[RawSubscriber]], indexes: range, batch: int = 20
) -> list[RawSubscriber]:
    """Subscribers opened 20 at a time, so that opening them does not take up
    the run (bench/README.md, "Sizes and clients")."""
    opened: list[RawSubscriber] = []
    for start in range(indexes.start, indexes.stop, batch):
        opened += await asyncio.gather(
            *(open_one(i) for i in range(start, min(start + batch, indexes.stop)))
        )
    return opened


@contextlib.contextmanager
def no_client_gc() -> Iterator[None]:
    """The load generator holds 1,000 sockets and every frame they received: a
    full collection in it stalls the very arrivals it is timing."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def card_revision(frame: bytes) -> int:
    """The card revision in one `next` frame of the card subscription."""
    return int(json.loads(frame)["payload"]["data"]["microgridCard"]["card"]["revision"])
