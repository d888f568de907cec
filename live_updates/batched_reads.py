"""Reads of single keys asked for in the same turn of the event loop, made as
one read of all their keys.

When many screens reconnect at once, the followers of many cards start (and
ask which microgrid a depot has) within a few turns of the loop: one read each
held a pool connection each, and a cold pool opened (and prepared its
statements on) a new connection for most of them. Read together they cost one
connection and one statement per table. A read starts on the turn after the
first key of its batch was asked for, so it never answers a caller with data
read before that caller asked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedReads(Generic[K, V]):
    """``read_many`` of the keys asked for together; a key it does not answer
    gets ``None``."""

    def __init__(self, read_many: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._read_many = read_many
        self._pending: dict[K, asyncio.Future[V | None]] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Reads made so far (for tests and /metrics)."""

    async def get(self, key: K) -> V | None:
        pending = self._pending
        if pending is None:
            pending = self._pending = {}
            asyncio.get_running_loop().call_soon(self._start)
        future = pending.get(key)
        if future is None:
            future = pending[key] = asyncio.get_running_loop().create_future()
        # Shielded: a caller that goes away must not cancel the others' read.
        return await asyncio.shield(future)

    def _start(self) -> None:
        batch, self._pending = self._pending or {}, None
        self.batches += 1
        task = asyncio.ensure_future(self._read(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _read(self, batch: dict[K, asyncio.Future[V | None]]) -> None:
        try:
            found = await self._read_many(list(batch))
        except asyncio.CancelledError:
            for future in batch.values():
                future.cancel()
            raise
        except Exception as error:
            for future in batch.values():
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: a caller that went away never will
            return
        for key, future in batch.items():
            if not future.done():
                future.set_result(found.get(key))
