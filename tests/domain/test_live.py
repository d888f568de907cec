"""What a live subscriber receives, and when (DESIGN §3), with fakes and a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta

import pytest

from domain.access import EVERYWHERE
from domain.capability import CapabilityType, Freshness, Observation
from domain.card import card_for_microgrid
from domain.changes import Change, ChangeReason
from domain.circuits import NewCircuitCommand, create_circuit
from domain.depots import NewCircuit, create_depot
from domain.live import CardBroadcasts, FellBehind, follow_card, follow_events, follow_topology
from domain.status_ingest import record_capability_status
from tests.support.clock import FakeClock
from tests.support.fakes import Store, fake_dependencies


class QueueFeed:
    """Delivers what the fake store published, like the hub does after commit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen = len(store.published)
        self.wake = asyncio.Event()

    async def next(self) -> Change | None:
        while self.seen >= len(self.store.published):
            await asyncio.sleep(0.001)
        self.seen += 1
        return self.store.published[self.seen - 1]


async def _setup(stale_after=60):
    store, clock = Store(), FakeClock(tick=timedelta(0))
    deps = fake_dependencies(store, clock, stale_after_seconds=stale_after)
    created = await create_depot(deps, EVERYWHERE, "D", [NewCircuit("Top")])
    return store, clock, deps, created.sync.microgrid


async def test_status_topology_and_freshness_updates_in_order():
    store, clock, deps, microgrid = await _setup(stale_after=60)
    feed = QueueFeed(store)
    snapshot = await card_for_microgrid(deps, microgrid.id)
    updates = follow_card(deps, feed, snapshot)

    await record_capability_status(
        deps, EVERYWHERE, Observation(microgrid.id, CapabilityType.DER, True, clock.current, "r1")
    )
    reason, card = await asyncio.wait_for(updates.__anext__(), 2)
    assert reason is ChangeReason.CAPABILITY_STATUS and card.der.freshness is Freshness.FRESH
    assert card.revision > snapshot.revision

    await create_circuit(deps, EVERYWHERE, NewCircuitCommand(microgrid.depot_id, "Second"))
    reason, topology_card = await asyncio.wait_for(updates.__anext__(), 2)
    assert reason is ChangeReason.TOPOLOGY
    assert [n.name for n in topology_card.microgrid.grid_connections] == ["Top", "Second"]

    pending = asyncio.ensure_future(updates.__anext__())
    await asyncio.sleep(0.05)
    assert not pending.done(), "nothing to push while the status is fresh"
    clock.advance(60)
    reason, stale_card = await asyncio.wait_for(pending, 2)
    assert reason is ChangeReason.FRESHNESS and stale_card.der.freshness is Freshness.STALE
    assert stale_card.revision == topology_card.revision
    await updates.aclose()


async def test_a_notice_already_covered_by_an_earlier_read_is_not_pushed_twice():
    store, clock, deps, microgrid = await _setup()
    feed = QueueFeed(store)
    snapshot = await card_for_microgrid(deps, microgrid.id)
    for ref in ("a", "b"):
        await record_capability_status(
            deps,
            EVERYWHERE,
            Observation(microgrid.id, CapabilityType.DER, True, clock.current, ref),
        )
    updates = follow_card(deps, feed, snapshot)
    reason, card = await asyncio.wait_for(updates.__anext__(), 2)
    assert card.revision == snapshot.revision + 2
    pending = asyncio.ensure_future(updates.__anext__())
    await asyncio.sleep(0.05)
    assert not pending.done()
    pending.cancel()


async def test_a_resync_notice_pushes_only_when_something_changed():
    store, clock, deps, microgrid = await _setup()

    class Feed:
        def __init__(self):
            self.items: asyncio.Queue = asyncio.Queue()

        async def next(self):
            return await self.items.get()

    feed = Feed()
    snapshot = await card_for_microgrid(deps, microgrid.id)
    updates = follow_card(deps, feed, snapshot)
    pending = asyncio.ensure_future(updates.__anext__())
    feed.items.put_nowait(None)
    await asyncio.sleep(0.05)
    assert not pending.done()
    # a status recorded while the notice was lost (e.g. Redis was down)
    await record_capability_status(
        deps, EVERYWHERE, Observation(microgrid.id, CapabilityType.DER, False, clock.current, "x")
    )
    feed.items.put_nowait(None)
    reason, card = await asyncio.wait_for(pending, 2)
    assert reason is ChangeReason.SNAPSHOT and card.der.status.value == "OFF"


async def test_event_and_topology_followers():
    store, clock, deps, microgrid = await _setup()
    events = follow_events(deps, QueueFeed(store), microgrid.id, 0)
    topology = follow_topology(deps, QueueFeed(store), microgrid)

    await record_capability_status(
        deps,
        EVERYWHERE,
        Observation(microgrid.id, CapabilityType.PEAK_SHAVING, True, clock.current, "p"),
    )
    first = await asyncio.wait_for(events.__anext__(), 2)
    assert (first.sequence, first.observation.provider_event_ref) == (1, "p")

    await create_circuit(deps, EVERYWHERE, NewCircuitCommand(microgrid.depot_id, "B"))
    changed = await asyncio.wait_for(topology.__anext__(), 2)
    assert [n.name for n in changed.grid_connections] == ["Top", "B"]


class QueueFeeds:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.open = 0

    @contextlib.asynccontextmanager
    async def subscribe(self, _microgrid_id, lossy=False):
        self.open += 1
        try:
            yield QueueFeed(self.store)
        finally:
            self.open -= 1


def _present(reason, card):
    return (reason, card.revision)


async def _record(deps, clock, microgrid, ref):
    await record_capability_status(
        deps, EVERYWHERE, Observation(microgrid.id, CapabilityType.DER, True, clock.current, ref)
    )


async def test_every_local_subscriber_gets_one_shared_read_and_one_presented_update():
    store, clock, deps, microgrid = await _setup()
    feeds = QueueFeeds(store)
    broadcasts = CardBroadcasts(deps, feeds, _present)
    async with contextlib.AsyncExitStack() as stack:
        listeners = [
            await stack.enter_async_context(broadcasts.listen(microgrid.id)) for _ in range(25)
        ]
        snapshot = await card_for_microgrid(deps, microgrid.id)
        streams = [
            listener.after(snapshot.revision, snapshot.generated_at) for listener in listeners
        ]
        await asyncio.sleep(0.01)
        reads_before = broadcasts.reads

        await _record(deps, clock, microgrid, "shared")
        updates = await asyncio.wait_for(asyncio.gather(*[s.__anext__() for s in streams]), 2)

        assert feeds.open == 1, "one feed subscription for all subscribers"
        assert broadcasts.reads - reads_before == 1
        assert len({id(u) for u in updates}) == 1, "presented once, shared"
        assert updates[0] == (ChangeReason.CAPABILITY_STATUS, snapshot.revision + 1)
    await asyncio.sleep(0)
    assert feeds.open == 0, "the follower stops with its last subscriber"


async def test_a_late_subscriber_gets_nothing_its_snapshot_already_holds():
    store, clock, deps, microgrid = await _setup()
    broadcasts = CardBroadcasts(deps, QueueFeeds(store), _present)
    async with broadcasts.listen(microgrid.id) as early:
        early_snapshot = await card_for_microgrid(deps, microgrid.id)
        early_stream = early.after(early_snapshot.revision, early_snapshot.generated_at)
        await _record(deps, clock, microgrid, "one")
        first = await asyncio.wait_for(early_stream.__anext__(), 2)
        async with broadcasts.listen(microgrid.id) as late:
            late_snapshot = await card_for_microgrid(deps, microgrid.id)
            assert late_snapshot.revision == first[1]
            late_stream = late.after(late_snapshot.revision, late_snapshot.generated_at)
            await _record(deps, clock, microgrid, "two")
            assert await asyncio.wait_for(late_stream.__anext__(), 2) == (
                ChangeReason.CAPABILITY_STATUS,
                first[1] + 1,
            )


async def test_a_subscriber_that_never_reads_falls_behind_and_others_keep_receiving():
    store, clock, deps, microgrid = await _setup()
    broadcasts = CardBroadcasts(deps, QueueFeeds(store), _present, queue_size=3)
    async with broadcasts.listen(microgrid.id) as stalled, broadcasts.listen(microgrid.id) as live:
        snapshot = await card_for_microgrid(deps, microgrid.id)
        stream = live.after(snapshot.revision, snapshot.generated_at)
        for n in range(6):
            await _record(deps, clock, microgrid, f"r{n}")
            assert (await asyncio.wait_for(stream.__anext__(), 2))[1] == snapshot.revision + n + 1
        with pytest.raises(FellBehind):
            async for _update in stalled.after(snapshot.revision, snapshot.generated_at):
                pass


class Direct:
    """Delivers straight to the subscriber, like a socket write, when it accepts."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.prepared: list[object] = []
        self.delivered: list[object] = []

    def prepare(self, update):
        self.prepared.append(update)
        return asyncio.sleep(0)

    def deliver(self, update) -> bool:
        assert update in self.prepared, "prepared before delivery"
        if self.accept:
            self.delivered.append(update)
        return self.accept


async def test_a_waiting_subscriber_gets_its_update_directly_a_declined_one_through_its_stream():
    store, clock, deps, microgrid = await _setup()
    broadcasts = CardBroadcasts(deps, QueueFeeds(store), _present)
    async with broadcasts.listen(microgrid.id) as direct, broadcasts.listen(microgrid.id) as other:
        direct.direct, other.direct = Direct(), Direct(accept=False)
        snapshot = await card_for_microgrid(deps, microgrid.id)
        direct_next = asyncio.ensure_future(
            direct.after(snapshot.revision, snapshot.generated_at).__anext__()
        )
        other_stream = other.after(snapshot.revision, snapshot.generated_at)
        other_next = asyncio.ensure_future(other_stream.__anext__())
        await asyncio.sleep(0.01)

        await _record(deps, clock, microgrid, "one")
        update = (ChangeReason.CAPABILITY_STATUS, snapshot.revision + 1)
        assert await asyncio.wait_for(other_next, 2) == update
        assert direct.direct.delivered == [update]
        assert not direct_next.done(), "its own stream was not woken"
        assert broadcasts.direct_deliveries == 1
        direct_next.cancel()


async def test_updates_queued_before_a_subscriber_waits_come_first_and_in_order():
    store, clock, deps, microgrid = await _setup()
    broadcasts = CardBroadcasts(deps, QueueFeeds(store), _present)
    async with broadcasts.listen(microgrid.id) as listener:
        listener.direct = sink = Direct()
        snapshot = await card_for_microgrid(deps, microgrid.id)
        for ref in ("one", "two"):
            await _record(deps, clock, microgrid, ref)
            await asyncio.sleep(0.05)  # the follower has offered it: nobody waits yet
        stream = listener.after(snapshot.revision, snapshot.generated_at)
        queued = [await asyncio.wait_for(stream.__anext__(), 2) for _ in range(2)]
        assert [revision for _, revision in queued] == [
            snapshot.revision + 1,
            snapshot.revision + 2,
        ]
        assert sink.delivered == []

        waiting = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.01)
        await _record(deps, clock, microgrid, "three")
        await asyncio.sleep(0.05)
        assert sink.delivered == [(ChangeReason.CAPABILITY_STATUS, snapshot.revision + 3)]
        assert not waiting.done()
        waiting.cancel()


async def test_direct_delivery_skips_what_the_snapshot_already_holds():
    """The follower may offer a change its read saw before the subscriber's
    snapshot did: a waiting subscriber must not get it twice."""
    from domain.live import CardListener

    store, clock, deps, microgrid = await _setup()
    card = await card_for_microgrid(deps, microgrid.id)
    listener: CardListener[str] = CardListener(8)
    listener.direct = sink = Direct()
    stream = listener.after(card.revision, card.generated_at)
    waiting = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)  # waiting, nothing queued
    sink.prepared += ["held", "newer"]

    assert not listener.offer((ChangeReason.CAPABILITY_STATUS, card, "held"))
    newer = replace(card, microgrid=replace(card.microgrid, revision=card.revision + 1))
    assert listener.offer((ChangeReason.CAPABILITY_STATUS, newer, "newer"))

    assert sink.delivered == ["newer"]
    assert not waiting.done(), "nothing queued for its own stream either"
    waiting.cancel()


async def test_an_update_never_overtakes_one_still_queued_for_the_same_subscriber():
    from domain.live import CardListener

    store, clock, deps, microgrid = await _setup()
    card = await card_for_microgrid(deps, microgrid.id)
    listener: CardListener[str] = CardListener(8)
    listener.direct = sink = Direct(accept=False)
    stream = listener.after(card.revision - 2, card.generated_at)
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)  # waiting, nothing queued
    sink.prepared += ["declined", "accepted"]

    listener.offer((ChangeReason.CAPABILITY_STATUS, card, "declined"))
    sink.accept = True
    assert not listener.offer((ChangeReason.CAPABILITY_STATUS, card, "accepted"))

    assert sink.delivered == []
    assert await first == "declined"
    assert await stream.__anext__() == "accepted"
