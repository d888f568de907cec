"""The Redis Cluster broker (sharded pub/sub): which URLs name a cluster, a
notice reaches only the processes that follow its microgrid, and a shard that
restarts makes its followers re-read (DESIGN §3)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from redis.asyncio.cluster import ClusterPubSub, NodesManager, RedisCluster

from app.broker import Hub, RedisBroker, create_broker
from app.cluster_broker import ClusterBroker, cluster_client
from bench.redis_cluster import RedisClusterNodes
from domain.changes import Change, ChangeReason
from tests.support.brokers import running
from tests.support.redis_cluster import running_cluster


def _change(microgrid_id: UUID, revision: int = 1) -> Change:
    return Change(microgrid_id, ChangeReason.CAPABILITY_STATUS, revision, uuid4())


def test_a_cluster_url_names_its_startup_nodes_and_a_plain_one_keeps_one_redis():
    client = cluster_client("redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001")
    assert [(n.host, n.port) for n in client.nodes_manager.startup_nodes.values()] == [
        ("10.0.0.1", 7000),
        ("10.0.0.2", 7001),
    ]
    assert isinstance(create_broker("redis://127.0.0.1:6379/0")[1], RedisBroker)
    assert isinstance(create_broker("redis+cluster://127.0.0.1:7000")[1], ClusterBroker)


@pytest.mark.parametrize(
    ("url", "channel"),
    [
        ("redis+cluster://10.0.0.1", "microgrid:changes"),
        ("redis+cluster://10.0.0.1:7000,:7001", "microgrid:changes"),
        ("redis+cluster://10.0.0.1:7000", "microgrid:{changes}"),
    ],
)
def test_a_malformed_cluster_setting_is_refused_at_start_up(url, channel):
    with pytest.raises(ValueError, match=r"REDIS_URL|REDIS_CHANNEL"):
        create_broker(url, channel)


class _Interest:
    def __init__(self) -> None:
        self.calls: list[tuple[str, UUID]] = []

    async def follow(self, microgrid_id: UUID) -> None:
        self.calls.append(("follow", microgrid_id))

    def unfollow(self, microgrid_id: UUID) -> None:
        self.calls.append(("unfollow", microgrid_id))


async def test_the_hub_says_when_a_microgrid_is_first_followed_and_when_no_longer():
    hub, interest = Hub(), _Interest()
    hub.interest = interest
    microgrid = uuid4()
    async with hub.subscribe(microgrid):
        async with hub.subscribe(microgrid, lossy=True):
            pass
        assert ("unfollow", microgrid) not in interest.calls, "one subscription still open"
    assert interest.calls[-1] == ("unfollow", microgrid)


def test_the_redis_py_cluster_pubsub_names_the_broker_relies_on():
    """Guard (DESIGN §1): redis-py 8's async ClusterPubSub, read one shard at a
    time; an upgrade that changes these fails here, not in production."""
    assert "target_node" in inspect.signature(ClusterPubSub.get_sharded_message).parameters
    assert inspect.iscoroutinefunction(ClusterPubSub.reinitialize_shard_subscriptions)
    assert inspect.iscoroutinefunction(NodesManager.initialize)
    assert "nodes_manager" in RedisCluster.__slots__ or hasattr(RedisCluster, "nodes_manager")
    pubsub = cluster_client("redis+cluster://127.0.0.1:1").pubsub()
    assert pubsub.node_pubsub_mapping == {}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterNodes]:
    with running_cluster(tmp_path, masters=3, replicas=0) as nodes:
        yield nodes


@pytest.mark.redis
async def test_only_followers_hear_a_notice_and_a_restarted_shard_makes_them_re_read(cluster):
    channel = f"test:{uuid4().hex}"
    hub_a, hub_b = Hub(), Hub()
    async with (
        running(ClusterBroker(hub_a, cluster.url, channel)) as a,
        running(ClusterBroker(hub_b, cluster.url, channel)) as b,
    ):
        followed, unfollowed = uuid4(), uuid4()
        async with hub_b.subscribe(followed, lossy=True) as card_on_b:
            await a.publish([_change(unfollowed, 1), _change(followed, 1)])
            assert (await asyncio.wait_for(card_on_b.next(), 5)).revision == 1
            assert (hub_a.notices_received, hub_b.notices_received) == (0, 1)

            shard = b.cluster.get_node_from_key(b.channel_of(followed))
            cluster.kill(shard.port)
            cluster.start_node(shard.port)
            assert await asyncio.wait_for(card_on_b.next(), 20) is None, "B re-read"

            await a.publish([_change(followed, 2)])
            while (heard := await asyncio.wait_for(card_on_b.next(), 10)) is None:
                pass
            assert heard.revision == 2

        await _no_shard_subscribers(cluster, shard.port, b.channel_of(followed))
        await a.publish([_change(followed, 3)])
        async with hub_a.subscribe(followed) as card_on_a:
            await a.publish([_change(followed, 4)])
            assert (await asyncio.wait_for(card_on_a.next(), 5)).revision == 4
        assert hub_b.notices_received == 2, "B stopped hearing once it stopped following"

        async with hub_b.subscribe(followed, lossy=True):
            pass
        async with hub_b.subscribe(followed, lossy=True) as again:  # at once, and again
            await a.publish([_change(followed, 5)])
            while (heard := await asyncio.wait_for(again.next(), 5)) is None:
                pass
            assert heard.revision == 5


async def _no_shard_subscribers(cluster: RedisClusterNodes, port: int, channel: str) -> None:
    """Waits (polling, with a deadline) until the shard has no subscriber of ``channel``."""
    deadline = asyncio.get_running_loop().time() + 10
    while cluster.cli(port, "pubsub", "shardnumsub", channel).split()[-1] != "0":
        assert asyncio.get_running_loop().time() < deadline, "SUNSUBSCRIBE never arrived"
        await asyncio.sleep(0.05)
