"""One card follower per microgrid per process, shared by its local
subscribers (live_updates/card_followers.py), with fakes and a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import pytest

from domain.access import EVERYWHERE
from domain.capability import CapabilityType, Observation
from domain.card import card_for_microgrid
from domain.changes import ChangeReason
from domain.live import CardUpdate, FellBehind
from domain.status_ingest import record_capability_status
from live_updates.card_followers import CardFollowers, Listener
from tests.support.fakes import Store
from tests.support.live import QueueFeed, one_microgrid_site


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


class Presenter:
    """Counts what the follower presents: once per change, for every subscriber."""

    def __init__(self) -> None:
        self.presented: list[CardUpdate] = []

    def __call__(self, update: CardUpdate) -> tuple[ChangeReason, int]:
        self.presented.append(update)
        return update.reason, update.card.revision


def _seen(update: CardUpdate) -> tuple[ChangeReason, int]:
    return update.reason, update.card.revision


async def _record(deps, clock, microgrid, ref):
    await record_capability_status(
        deps, EVERYWHERE, Observation(microgrid.id, CapabilityType.DER, True, clock.current, ref)
    )


async def test_every_local_subscriber_gets_one_shared_read_and_one_presented_update():
    store, clock, deps, microgrid = await one_microgrid_site()
    feeds, present = QueueFeeds(store), Presenter()
    followers = CardFollowers(deps, feeds, present)
    async with contextlib.AsyncExitStack() as stack:
        listeners = [
            await stack.enter_async_context(followers.listen(microgrid.id)) for _ in range(25)
        ]
        snapshot = await card_for_microgrid(deps, microgrid.id)
        streams = [
            listener.after(snapshot.revision, snapshot.generated_at) for listener in listeners
        ]
        await asyncio.sleep(0.01)
        reads_before = followers.reads

        await _record(deps, clock, microgrid, "shared")
        updates = await asyncio.wait_for(asyncio.gather(*[s.__anext__() for s in streams]), 2)

        assert feeds.open == 1, "one feed subscription for all subscribers"
        assert followers.reads - reads_before == 1
        assert len({id(u) for u in updates}) == 1, "one update, shared"
        assert present.presented == [updates[0]], "presented once"
        assert _seen(updates[0]) == (ChangeReason.CAPABILITY_STATUS, snapshot.revision + 1)
    await asyncio.sleep(0)
    assert feeds.open == 0, "the follower stops with its last subscriber"


async def test_a_late_subscriber_gets_nothing_its_snapshot_already_holds():
    store, clock, deps, microgrid = await one_microgrid_site()
    followers = CardFollowers(deps, QueueFeeds(store))
    async with followers.listen(microgrid.id) as early:
        early_snapshot = await card_for_microgrid(deps, microgrid.id)
        early_stream = early.after(early_snapshot.revision, early_snapshot.generated_at)
        await _record(deps, clock, microgrid, "one")
        first = _seen(await asyncio.wait_for(early_stream.__anext__(), 2))
        async with followers.listen(microgrid.id) as late:
            late_snapshot = await card_for_microgrid(deps, microgrid.id)
            assert late_snapshot.revision == first[1]
            late_stream = late.after(late_snapshot.revision, late_snapshot.generated_at)
            await _record(deps, clock, microgrid, "two")
            assert _seen(await asyncio.wait_for(late_stream.__anext__(), 2)) == (
                ChangeReason.CAPABILITY_STATUS,
                first[1] + 1,
            )


async def test_a_subscriber_that_never_reads_falls_behind_and_others_keep_receiving():
    store, clock, deps, microgrid = await one_microgrid_site()
    followers = CardFollowers(deps, QueueFeeds(store), queue_size=3)
    async with followers.listen(microgrid.id) as stalled, followers.listen(microgrid.id) as live:
        snapshot = await card_for_microgrid(deps, microgrid.id)
        stream = live.after(snapshot.revision, snapshot.generated_at)
        for n in range(6):
            await _record(deps, clock, microgrid, f"r{n}")
            update = await asyncio.wait_for(stream.__anext__(), 2)
            assert update.card.revision == snapshot.revision + n + 1
        with pytest.raises(FellBehind):
            async for _update in stalled.after(snapshot.revision, snapshot.generated_at):
                pass


class Direct:
    """Delivers straight to the subscriber, like a socket write, when it accepts."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.prepared: list[object] = []
        self.delivered: list[object] = []

    def prepare(self, payload):
        self.prepared.append(payload)
        return asyncio.sleep(0)

    def deliver(self, payload) -> bool:
        assert payload in self.prepared, "prepared before delivery"
        if self.accept:
            self.delivered.append(payload)
        return self.accept


class Directs:
    """Hands each subscriber, as it starts listening, the next of these deliveries."""

    def __init__(self, *directs: Direct) -> None:
        self.directs = list(directs)

    def __call__(self) -> Direct | None:
        return self.directs.pop(0) if self.directs else None


async def test_a_waiting_subscriber_gets_its_update_directly_a_declined_one_through_its_stream():
    store, clock, deps, microgrid = await one_microgrid_site()
    accepting, declining = Direct(), Direct(accept=False)
    followers = CardFollowers(
        deps, QueueFeeds(store), Presenter(), direct_for=Directs(accepting, declining)
    )
    async with followers.listen(microgrid.id) as direct, followers.listen(microgrid.id) as other:
        snapshot = await card_for_microgrid(deps, microgrid.id)
        direct_next = asyncio.ensure_future(
            direct.after(snapshot.revision, snapshot.generated_at).__anext__()
        )
        other_stream = other.after(snapshot.revision, snapshot.generated_at)
        other_next = asyncio.ensure_future(other_stream.__anext__())
        await asyncio.sleep(0.01)

        await _record(deps, clock, microgrid, "one")
        update = (ChangeReason.CAPABILITY_STATUS, snapshot.revision + 1)
        assert _seen(await asyncio.wait_for(other_next, 2)) == update
        assert accepting.delivered == [update], "the presented update, delivered"
        assert declining.prepared == [update]
        assert not direct_next.done(), "its own stream was not woken"
        assert followers.direct_deliveries == 1
        direct_next.cancel()


async def test_updates_queued_before_a_subscriber_waits_come_first_and_in_order():
    store, clock, deps, microgrid = await one_microgrid_site()
    sink = Direct()
    followers = CardFollowers(deps, QueueFeeds(store), Presenter(), direct_for=Directs(sink))
    async with followers.listen(microgrid.id) as listener:
        snapshot = await card_for_microgrid(deps, microgrid.id)
        for ref in ("one", "two"):
            await _record(deps, clock, microgrid, ref)
            await asyncio.sleep(0.05)  # the follower has offered it: nobody waits yet
        stream = listener.after(snapshot.revision, snapshot.generated_at)
        queued = [await asyncio.wait_for(stream.__anext__(), 2) for _ in range(2)]
        assert [update.card.revision for update in queued] == [
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
    store, clock, deps, microgrid = await one_microgrid_site()
    card = await card_for_microgrid(deps, microgrid.id)
    sink = Direct()
    listener = Listener(8, sink)
    stream = listener.after(card.revision, card.generated_at)
    waiting = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)  # waiting, nothing queued
    sink.prepared += ["held", "newer"]

    assert not listener.offer(CardUpdate(ChangeReason.CAPABILITY_STATUS, card), "held")
    newer = replace(card, microgrid=replace(card.microgrid, revision=card.revision + 1))
    assert listener.offer(CardUpdate(ChangeReason.CAPABILITY_STATUS, newer), "newer")

    assert sink.delivered == ["newer"]
    assert not waiting.done(), "nothing queued for its own stream either"
    waiting.cancel()


async def test_an_update_never_overtakes_one_still_queued_for_the_same_subscriber():
    store, clock, deps, microgrid = await one_microgrid_site()
    card = await card_for_microgrid(deps, microgrid.id)
    sink = Direct(accept=False)
    listener = Listener(8, sink)
    stream = listener.after(card.revision - 2, card.generated_at)
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)  # waiting, nothing queued
    sink.prepared += ["declined", "accepted"]

    declined = CardUpdate(ChangeReason.CAPABILITY_STATUS, card)
    accepted = CardUpdate(ChangeReason.CAPABILITY_STATUS, card)
    listener.offer(declined, "declined")
    sink.accept = True
    assert not listener.offer(accepted, "accepted")

    assert sink.delivered == []
    assert await first is declined
    assert await stream.__anext__() is accepted


class Outage(Exception):
    """The database unreachable for a moment."""


class FlakyReads(CardFollowers):
    """Card reads after the first fail with :class:`Outage` ``failures`` times."""

    def __init__(self, *args, failures: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.failures = failures

    async def _read(self, deps, microgrid_id):
        if self.reads >= 1 and self.failures:
            self.failures -= 1
            self.reads += 1
            raise Outage()
        return await super()._read(deps, microgrid_id)


async def test_a_card_read_during_an_outage_is_retried_and_the_stream_catches_up():
    store, clock, deps, microgrid = await one_microgrid_site()
    followers = FlakyReads(
        deps, QueueFeeds(store), failures=3, transient=lambda e: isinstance(e, Outage)
    )
    async with followers.listen(microgrid.id) as listener:
        snapshot = await card_for_microgrid(deps, microgrid.id)
        stream = listener.after(snapshot.revision, snapshot.generated_at)
        await _record(deps, clock, microgrid, "during the outage")
        update = await asyncio.wait_for(stream.__anext__(), 5)
    assert followers.failures == 0, "the reads that failed were tried again"
    assert _seen(update) == (ChangeReason.CAPABILITY_STATUS, snapshot.revision + 1)


async def test_an_error_that_does_not_pass_still_ends_the_stream():
    store, clock, deps, microgrid = await one_microgrid_site()
    followers = FlakyReads(deps, QueueFeeds(store), failures=1)
    async with followers.listen(microgrid.id) as listener:
        snapshot = await card_for_microgrid(deps, microgrid.id)
        stream = listener.after(snapshot.revision, snapshot.generated_at)
        await _record(deps, clock, microgrid, "broken")
        with pytest.raises(Outage):
            await asyncio.wait_for(stream.__anext__(), 5)
