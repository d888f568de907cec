"""A new card subscriber's snapshot comes from its microgrid's follower
(live_updates/card_followers.py, issue 17): one read for a burst, read for now,
never older than what the follower last pushed. Fakes and a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from domain.access import EVERYWHERE
from domain.capability import CapabilityType, Freshness, Observation
from domain.card import as_of, card_for_microgrid
from domain.changes import ChangeReason
from domain.depots import DepotCreated, NewCircuit, create_depot
from domain.live import CardUpdate
from domain.status_ingest import record_capability_status
from live_updates.card_followers import SNAPSHOT_SHARED_FOR, CardFollowers
from tests.live_updates.test_card_followers import QueueFeeds
from tests.support.live import one_microgrid_site


async def _record(deps, clock, microgrid, ref):
    await record_capability_status(
        deps, EVERYWHERE, Observation(microgrid.id, CapabilityType.DER, True, clock.current, ref)
    )


async def _until(condition, seconds: float = 5) -> None:
    """Polls ``condition`` with a deadline (nothing else to wait for)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


class GatedReads(CardFollowers):
    """Card reads after the first wait for ``gate``: a follower caught mid-read."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()
        self.gate.set()
        self.reading = asyncio.Event()

    async def _read(self, deps, microgrid_id):
        if self.reads >= 1:
            self.reading.set()
            await self.gate.wait()
        return await super()._read(deps, microgrid_id)


async def test_a_burst_of_subscribers_shares_the_followers_first_read():
    store, _clock, deps, microgrid = await one_microgrid_site()
    followers = CardFollowers(deps, QueueFeeds(store))

    async def subscribe(stack: contextlib.AsyncExitStack) -> CardUpdate | None:
        listener = await stack.enter_async_context(followers.listen(microgrid.id))
        return await listener.snapshot()

    async with contextlib.AsyncExitStack() as stack:
        snapshots = await asyncio.gather(*(subscribe(stack) for _ in range(50)))
        late = await subscribe(stack)
    current = await card_for_microgrid(deps, microgrid.id)
    assert followers.reads == 1, "one card read for 51 subscribers"
    assert {id(s) for s in [*snapshots, late]} == {id(late)}, "one snapshot, shared"
    assert late is not None and late.reason is ChangeReason.SNAPSHOT
    assert late.card.revision == current.revision


async def test_a_status_that_went_stale_since_the_last_push_shows_stale_in_a_new_snapshot():
    store, clock, deps, microgrid = await one_microgrid_site(stale_after=60)
    await _record(deps, clock, microgrid, "fresh")
    followers = CardFollowers(deps, QueueFeeds(store))
    async with followers.listen(microgrid.id) as first:
        first_snapshot = await first.snapshot()
        assert first_snapshot is not None
        before = first_snapshot.card
        assert before.der.freshness is Freshness.FRESH
        # Time passes without waking the follower's freshness timer: its card
        # still says FRESH, as it last pushed it.
        clock.current += timedelta(seconds=61)
        async with followers.listen(microgrid.id) as second:
            taken = await second.snapshot()
        assert taken is not None
        snapshot = taken.card
        assert snapshot.der.freshness is Freshness.STALE
        assert snapshot.der.age_seconds == before.der.age_seconds + 61
        assert snapshot.revision == before.revision
        assert followers.reads == 1, "no read of its own"


async def test_a_new_snapshot_is_never_older_than_what_the_follower_last_pushed():
    store, clock, deps, microgrid = await one_microgrid_site()
    followers = CardFollowers(deps, QueueFeeds(store))
    async with followers.listen(microgrid.id) as early:
        taken = await early.snapshot()
        assert taken is not None
        first = taken.card
        stream = early.after(first.revision, first.generated_at)
        await _record(deps, clock, microgrid, "one")
        pushed = await asyncio.wait_for(stream.__anext__(), 2)
        async with followers.listen(microgrid.id) as late:
            late_taken = await late.snapshot()
        assert late_taken is not None
        snapshot = late_taken.card
        assert snapshot.revision == pushed.card.revision == first.revision + 1
        assert snapshot.der.status == pushed.card.der.status
        assert followers.reads == 2, "the first read and the change's: nothing per subscriber"


async def test_a_subscriber_arriving_while_the_follower_reads_a_change_gets_that_change():
    store, clock, deps, microgrid = await one_microgrid_site()
    followers = GatedReads(deps, QueueFeeds(store))
    async with followers.listen(microgrid.id) as early:
        taken = await early.snapshot()
        assert taken is not None
        first = taken.card
        followers.gate.clear()
        await _record(deps, clock, microgrid, "mid-read")
        await asyncio.wait_for(followers.reading.wait(), 2)  # the follower is reading it now

        async with followers.listen(microgrid.id) as late:
            late_taken = await asyncio.wait_for(late.snapshot(), 2)
            assert late_taken is not None
            snapshot = late_taken.card
            assert snapshot.revision == first.revision, "what the follower last pushed"
            stream = late.after(snapshot.revision, snapshot.generated_at)
            followers.gate.set()
            update = await asyncio.wait_for(stream.__anext__(), 2)
        assert update.reason is ChangeReason.CAPABILITY_STATUS
        assert update.card.revision == first.revision + 1
        assert update.card.der.status.value == "ON"


async def test_a_shared_snapshot_is_made_again_once_a_status_turns_stale_or_time_moves_on():
    store, clock, deps, microgrid = await one_microgrid_site(stale_after=60)
    await _record(deps, clock, microgrid, "fresh")
    followers = CardFollowers(deps, QueueFeeds(store))
    async with followers.listen(microgrid.id) as listener:
        first = await listener.snapshot()
        assert first is not None and first.card.der.freshness is Freshness.FRESH
        clock.current += timedelta(milliseconds=10)
        assert await listener.snapshot() is first, "the same moment, the same snapshot"
        clock.current = first.card.der.stale_at  # without waking the follower
        stale = await listener.snapshot()
        assert stale is not None and stale is not first
        assert stale.card.der.freshness is Freshness.STALE
        clock.current += SNAPSHOT_SHARED_FOR
        later = await listener.snapshot()
        assert later is not None and later is not stale
        assert later.card.generated_at == clock.current
        assert followers.reads == 1


async def test_a_burst_asking_for_a_depots_microgrid_shares_one_lookup_then_asks_the_follower():
    store, _clock, deps, microgrid = await one_microgrid_site()
    followers = CardFollowers(deps, QueueFeeds(store))
    found = await asyncio.gather(
        *(followers.microgrid_of_depot(microgrid.depot_id) for _ in range(30))
    )
    assert set(found) == {microgrid.id}
    assert followers.depot_lookups == 1
    async with followers.listen(microgrid.id) as listener:
        await listener.snapshot()
        assert await followers.microgrid_of_depot(microgrid.depot_id) == microgrid.id
        assert followers.depot_lookups == 1, "the follower's card answers"
    assert await followers.microgrid_of_depot(microgrid.depot_id) == microgrid.id
    assert followers.depot_lookups == 2, "nothing kept once nobody follows it"


async def test_as_of_moves_freshness_and_age_with_the_clock_and_nothing_else():
    _store, clock, deps, microgrid = await one_microgrid_site(stale_after=60)
    await _record(deps, clock, microgrid, "one")
    card = await card_for_microgrid(deps, microgrid.id)
    assert card is not None and card.der.freshness is Freshness.FRESH
    later = as_of(card, card.generated_at + timedelta(seconds=60))
    assert later.der.freshness is Freshness.STALE, "stale at staleAt exactly"
    assert later.der.stale_at == card.der.stale_at
    assert later.peak_shaving == card.peak_shaving, "never reported stays so"
    assert later.generated_at == card.generated_at + timedelta(seconds=60)
    assert (later.revision, later.power_sources) == (card.revision, card.power_sources)
    assert as_of(card, card.generated_at - timedelta(seconds=1)) is card


async def test_a_burst_over_many_depots_costs_one_lookup_and_one_card_read_for_all():
    store, _clock, deps, first = await one_microgrid_site()
    microgrids = [first]
    for n in range(7):
        created = await create_depot(deps, EVERYWHERE, f"D{n}", [NewCircuit("Top")])
        assert isinstance(created, DepotCreated) and created.sync.microgrid is not None
        microgrids.append(created.sync.microgrid)
    followers = CardFollowers(deps, QueueFeeds(store))

    async def screen(stack: contextlib.AsyncExitStack, depot_id) -> CardUpdate | None:
        microgrid_id = await followers.microgrid_of_depot(depot_id)
        listener = await stack.enter_async_context(followers.listen(microgrid_id))
        return await listener.snapshot()

    async with contextlib.AsyncExitStack() as stack:
        snapshots = await asyncio.gather(
            *(screen(stack, m.depot_id) for m in microgrids for _ in range(5))
        )
    assert [s.card.microgrid.id for s in snapshots if s is not None] == [
        m.id for m in microgrids for _ in range(5)
    ]
    assert followers.depot_lookups == 1, "one lookup for every depot"
    assert followers.reads == len(microgrids), "one card read per microgrid"
    assert followers.card_transactions == 1, "all in one transaction"
