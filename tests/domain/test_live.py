"""What a live subscriber receives, and when (DESIGN §3), with fakes and a fake clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from domain.access import EVERYWHERE
from domain.capability import CapabilityType, Freshness, Observation
from domain.card import card_for_microgrid
from domain.changes import ChangeReason
from domain.circuits import NewCircuitCommand, create_circuit
from domain.live import CardUpdate, follow_card, follow_events, follow_topology, is_newer
from domain.status_ingest import record_capability_status
from tests.support.live import QueueFeed, one_microgrid_site


async def test_status_topology_and_freshness_updates_in_order():
    store, clock, deps, microgrid = await one_microgrid_site(stale_after=60)
    feed = QueueFeed(store)
    snapshot = await card_for_microgrid(deps, microgrid.id)
    updates = follow_card(deps, feed, snapshot)

    await record_capability_status(
        deps, EVERYWHERE, Observation(microgrid.id, CapabilityType.DER, True, clock.current, "r1")
    )
    update = await asyncio.wait_for(updates.__anext__(), 2)
    assert update.reason is ChangeReason.CAPABILITY_STATUS
    assert update.card.der.freshness is Freshness.FRESH
    assert update.card.revision > snapshot.revision

    await create_circuit(deps, EVERYWHERE, NewCircuitCommand(microgrid.depot_id, "Second"))
    reason, topology_card = _pair(await asyncio.wait_for(updates.__anext__(), 2))
    assert reason is ChangeReason.TOPOLOGY
    assert [n.name for n in topology_card.microgrid.grid_connections] == ["Top", "Second"]

    pending = asyncio.ensure_future(updates.__anext__())
    await asyncio.sleep(0.05)
    assert not pending.done(), "nothing to push while the status is fresh"
    clock.advance(60)
    reason, stale_card = _pair(await asyncio.wait_for(pending, 2))
    assert reason is ChangeReason.FRESHNESS and stale_card.der.freshness is Freshness.STALE
    assert stale_card.revision == topology_card.revision
    await updates.aclose()


async def test_a_notice_already_covered_by_an_earlier_read_is_not_pushed_twice():
    store, clock, deps, microgrid = await one_microgrid_site()
    feed = QueueFeed(store)
    snapshot = await card_for_microgrid(deps, microgrid.id)
    for ref in ("a", "b"):
        await record_capability_status(
            deps,
            EVERYWHERE,
            Observation(microgrid.id, CapabilityType.DER, True, clock.current, ref),
        )
    updates = follow_card(deps, feed, snapshot)
    update = await asyncio.wait_for(updates.__anext__(), 2)
    assert update.card.revision == snapshot.revision + 2
    pending = asyncio.ensure_future(updates.__anext__())
    await asyncio.sleep(0.05)
    assert not pending.done()
    pending.cancel()


async def test_a_resync_notice_pushes_only_when_something_changed():
    store, clock, deps, microgrid = await one_microgrid_site()

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
    reason, card = _pair(await asyncio.wait_for(pending, 2))
    assert reason is ChangeReason.SNAPSHOT and card.der.status.value == "OFF"


async def test_event_and_topology_followers():
    store, clock, deps, microgrid = await one_microgrid_site()
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


def _pair(update: CardUpdate):
    return update.reason, update.card


async def test_a_subscriber_gets_what_its_snapshot_does_not_hold():
    _store, clock, deps, microgrid = await one_microgrid_site()
    card = await card_for_microgrid(deps, microgrid.id)
    newer = replace(card, microgrid=replace(card.microgrid, revision=card.revision + 1))
    later = replace(card, generated_at=card.generated_at + timedelta(seconds=1))
    at = (card.revision, card.generated_at)

    assert is_newer(CardUpdate(ChangeReason.CAPABILITY_STATUS, newer), *at)
    assert not is_newer(CardUpdate(ChangeReason.CAPABILITY_STATUS, card), *at), "already held"
    assert not is_newer(CardUpdate(ChangeReason.CAPABILITY_STATUS, later), *at)
    assert is_newer(CardUpdate(ChangeReason.FRESHNESS, later), *at), "a later freshness read"
    assert not is_newer(CardUpdate(ChangeReason.FRESHNESS, card), *at)
    older = replace(card, microgrid=replace(card.microgrid, revision=card.revision - 1))
    assert not is_newer(CardUpdate(ChangeReason.FRESHNESS, older), *at)
