"""Live-update fan-out: bounded queues, slow subscribers dropped, resync, and
convergence when Redis restarts or a notice is lost (DESIGN §3)."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest

from app.broker import (
    QUEUE_SIZE,
    Hub,
    InProcessBroker,
    RedisBroker,
    decode,
    encode,
)
from app.silence_check import SilenceCheck
from domain.access import EVERYWHERE, Role
from domain.capability import CapabilityType, Observation
from domain.changes import Change, ChangeReason
from domain.live import FellBehind
from domain.status_ingest import StatusRecorded, record_capability_status
from tests.api.helpers import new_depot
from tests.support.brokers import running
from tests.support.live_server import live_server
from tests.support.ws import WsClient

CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status } } } }"""


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
        with pytest.raises(FellBehind):
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


@pytest.mark.redis
async def test_the_first_change_after_a_redis_restart_reaches_the_other_process(private_redis):
    """Issue 13 finding 7: the publisher's pooled connection died with Redis, the
    first publish after the restart failed and was not retried, and a card on the
    other process kept showing the old state until the next change."""
    channel = f"test:{uuid4().hex}"
    hub_a, hub_b = Hub(), Hub()
    async with (
        running(RedisBroker(hub_a, private_redis.url, channel)) as a,
        running(RedisBroker(hub_b, private_redis.url, channel)),
    ):
        microgrid = uuid4()
        async with hub_b.subscribe(microgrid, lossy=True) as card_on_b:
            await a.publish([_change(microgrid, 1)])
            assert (await asyncio.wait_for(card_on_b.next(), 5)).revision == 1

            private_redis.stop()
            private_redis.start()
            assert await asyncio.wait_for(card_on_b.next(), 10) is None, "B re-read on reconnect"

            await a.publish([_change(microgrid, 2)])
            assert (await asyncio.wait_for(card_on_b.next(), 5)).revision == 2


@pytest.mark.redis
async def test_a_publish_that_fails_never_fails_the_caller_and_still_converges(private_redis):
    """Redis down when the notice is published: the committed request succeeds,
    local subscriptions hear at once, the other process re-reads once Redis is back."""
    channel = f"test:{uuid4().hex}"
    hub_a, hub_b = Hub(), Hub()
    async with (
        running(RedisBroker(hub_a, private_redis.url, channel)) as a,
        running(RedisBroker(hub_b, private_redis.url, channel)),
    ):
        microgrid = uuid4()
        async with hub_a.subscribe(microgrid) as on_a, hub_b.subscribe(microgrid) as on_b:
            private_redis.stop()
            await a.publish([_change(microgrid, 7)])
            assert (await asyncio.wait_for(on_a.next(), 1)).revision == 7

            private_redis.start()
            heard = await asyncio.wait_for(on_b.next(), 10)
            assert heard is None or heard.revision == 7, "B re-reads or hears the re-sent notice"


@pytest.mark.stores("sqlite", "postgresql")
async def test_a_card_behind_the_database_is_brought_up_to_date_by_the_silence_check(
    container, admin, deps, published, clock
):
    """A notice lost on the way (here: never published) does not leave the open
    card stale: the silence check's one query finds the follower behind."""
    created = await new_depot(admin, "Silent", "Feeder")
    depot_id, microgrid_id = created["depot"]["id"], created["microgrid"]["id"]
    operator = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    check = SilenceCheck(container.engine, container.card_followers, container.hub, period=60)
    async with live_server(container) as url:
        ws = await WsClient.connect(url, operator)
        await ws.subscribe(CARD_SUB, {"depotId": depot_id})
        assert (await ws.data())["microgridCard"]["card"]["der"]["status"] == "UNKNOWN"
        assert await check.check() == []

        observation = Observation(
            UUID(microgrid_id), CapabilityType.DER, True, clock.now(), "lost-notice"
        )
        recorded = await record_capability_status(deps, EVERYWHERE, observation)
        assert isinstance(recorded, StatusRecorded) and published.changes, "committed, not heard"

        assert await check.check() == [UUID(microgrid_id)]
        update = (await ws.data())["microgridCard"]
        assert update["reason"] == "SNAPSHOT" and update["card"]["der"]["status"] == "ON"
        assert await check.check() == []
        await ws.close()
