"""A broker of the service's, started and connected for a test, stopped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol, TypeVar


class _Connecting(Protocol):
    connected: asyncio.Event

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


B = TypeVar("B", bound=_Connecting)


@contextlib.asynccontextmanager
async def running(broker: B) -> AsyncIterator[B]:
    """``broker`` once its subscriber is connected (at most 10 s)."""
    await broker.start()
    try:
        await asyncio.wait_for(broker.connected.wait(), 10)
        yield broker
    finally:
        await broker.stop()
