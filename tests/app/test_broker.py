"""The in-process fan-out: bounded queues, slow subscribers dropped, resync."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from app.broker import QUEUE_SIZE, Hub, InProcessBroker, SubscriberTooSlow, decode, encode
from domain.changes import Change, ChangeReason


def _change(microgrid_id, revision=1):
    return Change(microgrid_id, ChangeReason.CAPABILITY_STATUS, revision, uuid4())


async def test_changes_reach_only_subscribers_of_that_microgrid():
    hub = Hub()
    broker = InProcessBroker(hub)
    mine, other = uuid4(), uuid4()
    async with hub.subscribe(mine) as a, hub.subscribe(other) as b:
        await broker.publish([_change(mine)])
        assert (await asyncio.wait_for(a.next(), 1)).microgrid_id == mine
        assert b.queue.empty()
    assert hub.subscription_count == 0


async def test_a_slow_subscriber_is_dropped_and_others_keep_receiving():
    hub = Hub()
    microgrid = uuid4()
    async with hub.subscribe(microgrid) as slow, hub.subscribe(microgrid) as fast:
        for revision in range(QUEUE_SIZE + 5):
            hub.deliver(_change(microgrid, revision))
            await fast.next()
        assert slow.queue.qsize() == QUEUE_SIZE, "memory stays bounded"
        with pytest.raises(SubscriberTooSlow):
            await slow.next()
        hub.deliver(_change(microgrid, 999))
        assert (await fast.next()).revision == 999


async def test_resync_asks_every_subscription_to_re_read():
    hub = Hub()
    async with hub.subscribe(uuid4()) as a, hub.subscribe(uuid4()) as b:
        hub.resync_all()
        assert await a.next() is None and await b.next() is None


def test_notices_survive_the_wire_format():
    change = _change(uuid4(), 42)
    assert decode(encode(change)) == change
