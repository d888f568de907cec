"""The change notice carries its publish time ("t") for the notice-to-socket
lag, read tolerantly; the lag bookkeeping stays bounded; drops are counted."""

from __future__ import annotations

import asyncio
import json
import time
from uuid import uuid4

import pytest
from prometheus_client import CollectorRegistry, Histogram

from app.broker import (
    QUEUE_SIZE,
    Hub,
    InProcessBroker,
    RedisBroker,
    decode,
    decode_notice,
    encode,
)
from app.metrics import Bounded, NoticeLag
from domain.card import Card
from domain.changes import Change, ChangeReason
from domain.live import CardUpdate


def _change(revision: int = 1, microgrid_id=None) -> Change:
    return Change(microgrid_id or uuid4(), ChangeReason.CAPABILITY_STATUS, revision, uuid4())


def test_a_notice_carries_its_publish_time_and_still_decodes_to_the_change():
    change = _change(7)
    before = time.time()
    raw = encode(change)
    decoded, published_at = decode_notice(raw)
    assert decoded == change == decode(raw)
    assert published_at is not None and before <= published_at <= time.time()


@pytest.mark.parametrize(
    "sent", [None, "1700000000", True, [], {}, -1, 0, "NaN", float("inf"), 1e400]
)
def test_a_notice_without_a_usable_time_still_delivers_its_change(sent):
    change = _change(3)
    data = json.loads(encode(change))
    data["t"] = sent
    raw = json.dumps(data).replace('"NaN"', "NaN")
    decoded, published_at = decode_notice(raw)
    assert decoded == change
    assert published_at is None


def test_a_notice_from_an_older_process_has_no_time():
    change = _change(3)
    data = json.loads(encode(change))
    del data["t"]
    assert decode_notice(json.dumps(data)) == (change, None)


def _lag() -> tuple[NoticeLag, Histogram]:
    histogram = Histogram("lag_seconds", "lag", registry=CollectorRegistry())
    return NoticeLag(histogram), histogram


def _count(histogram: Histogram) -> float:
    [family] = histogram.collect()
    return next(s.value for s in family.samples if s.name.endswith("_count"))


class _Card:
    def __init__(self, revision: int) -> None:
        self.revision = revision


def _update(revision: int) -> CardUpdate:
    card: Card = _Card(revision)  # type: ignore[assignment]
    return CardUpdate(ChangeReason.CAPABILITY_STATUS, card)


def test_each_delivered_update_observes_the_oldest_notice_it_covers_once():
    lag, histogram = _lag()
    microgrid = uuid4()
    lag.noted(_change(3, microgrid), time.time())
    lag.noted(_change(4, microgrid), time.time())
    lag.delivered(microgrid, _update(2))
    assert _count(histogram) == 0, "an update older than every notice covers none"
    lag.delivered(microgrid, _update(3))
    lag.delivered(microgrid, _update(4))
    lag.delivered(microgrid, _update(4))  # a freshness update: no notice of its own
    assert _count(histogram) == 2


def test_pending_notices_stay_bounded():
    lag, histogram = _lag()
    microgrid = uuid4()
    for revision in range(NoticeLag.PER_MICROGRID * 3):
        lag.noted(_change(revision, microgrid), time.time())
    for _ in range(NoticeLag.MICROGRIDS + 10):
        lag.noted(_change(1), time.time())
    assert len(lag._pending) == NoticeLag.MICROGRIDS
    lag.delivered(microgrid, _update(10_000))
    assert _count(histogram) == 0, "the oldest microgrid's notices made room for newer ones"


async def test_in_process_notices_are_timed_and_slow_subscribers_counted():
    hub = Hub()
    noted: list[tuple[Change, float]] = []
    hub.on_notice = lambda change, at: noted.append((change, at))
    microgrid = uuid4()
    async with hub.subscribe(microgrid) as slow:
        await InProcessBroker(hub).publish([_change(1, microgrid)])
        for revision in range(2, QUEUE_SIZE + 3):
            hub.deliver(_change(revision, microgrid))
        assert slow.overflowed
    assert [c.revision for c, _ in noted] == [1]
    assert hub.dropped == 1
    await InProcessBroker(hub).publish([_change(1)])
    assert len(noted) == 1, "no subscriber: nothing to time"


def test_label_values_stay_a_bounded_set():
    bounded = Bounded(2, ["Known"])
    assert [bounded(v) for v in ("Known", "A", "B", "C", "A", "bad name", None)] == [
        "Known",
        "A",
        "B",
        "other",
        "A",
        "other",
        "none",
    ]


@pytest.mark.redis
async def test_a_notice_crosses_redis_with_its_time_and_reconnects_are_counted(private_redis):
    channel = f"test:{uuid4().hex}"
    hub_a, hub_b = Hub(), Hub()
    noted: list[tuple[Change, float]] = []
    hub_b.on_notice = lambda change, at: noted.append((change, at))
    a, b = (
        RedisBroker(hub_a, private_redis.url, channel),
        RedisBroker(hub_b, private_redis.url, channel),
    )
    await a.start()
    await b.start()
    try:
        await asyncio.wait_for(b.connected.wait(), 10)
        microgrid = uuid4()
        async with hub_b.subscribe(microgrid, lossy=True) as feed:
            before = time.time()
            await a.publish([_change(1, microgrid)])
            assert (await asyncio.wait_for(feed.next(), 5)).revision == 1
            [(change, published_at)] = noted
            assert change.revision == 1 and before <= published_at <= time.time()

            assert b.reconnects == 0
            private_redis.stop()
            private_redis.start()
            assert await asyncio.wait_for(feed.next(), 10) is None, "re-read on reconnect"
            assert b.reconnects == 1
    finally:
        await a.stop()
        await b.stop()
