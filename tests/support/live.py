"""Fakes for following a microgrid live: a feed of what the fake store
published, and a one-microgrid site on fakes with a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from domain.access import EVERYWHERE
from domain.changes import Change
from domain.depots import DepotCreated, NewCircuit, create_depot
from domain.model import Microgrid
from domain.ports import Dependencies
from tests.support.clock import FakeClock
from tests.support.fakes import Store, fake_dependencies


class QueueFeed:
    """Delivers what the fake store published, like the hub does after commit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen = len(store.published)

    async def next(self) -> Change | None:
        while self.seen >= len(self.store.published):
            await asyncio.sleep(0.001)
        self.seen += 1
        return self.store.published[self.seen - 1]


async def one_microgrid_site(
    stale_after: int = 60,
) -> tuple[Store, FakeClock, Dependencies, Microgrid]:
    """A depot with one top-level circuit, hence one microgrid, on fakes."""
    store, clock = Store(), FakeClock(tick=timedelta(0))
    deps = fake_dependencies(store, clock, stale_after_seconds=stale_after)
    created = await create_depot(deps, EVERYWHERE, "D", [NewCircuit("Top")])
    assert isinstance(created, DepotCreated) and created.sync.microgrid is not None
    return store, clock, deps, created.sync.microgrid
