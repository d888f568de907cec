"""The broker on a Redis Sentinel set follows a planned switchover at once
(issue 18): the demoted master stays up, and would keep its clients until a
sentinel reconfigures it, long after the switch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from uuid import uuid4

import pytest
import redis.asyncio

from app.broker import Hub, RedisBroker
from domain.changes import Change, ChangeReason
from tests.e2e.sentinel_set import SERVICE, SentinelSet
from tests.support.brokers import running

CONVERGE_SECONDS = 5
"""DESIGN §3's bound: every open card equals the database this soon after any change."""


@pytest.fixture
def engines(tmp_path) -> Iterator[SentinelSet]:
    engines = SentinelSet(tmp_path)
    try:
        engines.start()
        yield engines
    finally:
        engines.stop()


async def _switchover(engines: SentinelSet) -> int:
    """SENTINEL FAILOVER (no agreement needed: a planned switch); the new
    master's port once a sentinel announces +switch-master."""
    sentinel = redis.asyncio.Redis(host="127.0.0.1", port=engines.sentinel_ports[0])
    pubsub = sentinel.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe("+switch-master")
        await sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)
        deadline = time.monotonic() + 30
        while (message := await pubsub.get_message(timeout=1)) is None:
            assert time.monotonic() < deadline, "no +switch-master within 30 s"
        return int(bytes(message["data"]).split()[-1])
    finally:
        await pubsub.aclose()
        await sentinel.aclose()


async def _subscribers(port: int, channel: str) -> int:
    client = redis.asyncio.Redis(host="127.0.0.1", port=port)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_after_a_switchover_both_processes_meet_on_the_new_master(engines):
    channel = f"test:{uuid4().hex}"
    hub_a, hub_b = Hub(), Hub()
    async with (
        running(RedisBroker(hub_a, engines.url, channel)) as a,
        running(RedisBroker(hub_b, engines.url, channel)),
    ):
        microgrid = uuid4()
        async with hub_b.subscribe(microgrid, lossy=True) as card_on_b:
            await a.publish([Change(microgrid, ChangeReason.CAPABILITY_STATUS, 1, None)])
            assert (await asyncio.wait_for(card_on_b.next(), 5)).revision == 1

            new_master = await _switchover(engines)
            assert new_master == engines.replica_port
            deadline = time.monotonic() + CONVERGE_SECONDS
            while await _subscribers(new_master, channel) < 2:
                assert time.monotonic() < deadline, "a subscriber stayed on the demoted master"
                await asyncio.sleep(0.05)

            await a.publish([Change(microgrid, ChangeReason.CAPABILITY_STATUS, 2, None)])
            heard = None
            while heard is None:  # a re-read after the reconnect comes first
                heard = await asyncio.wait_for(card_on_b.next(), CONVERGE_SECONDS)
            assert heard.revision == 2, "the notice went through the new master"
