"""A Redis Cluster of local redis-server processes for one test (its
``tmp_path``), or the test skipped (failed under REQUIRE_SERVICES) when the
binaries are missing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.redis_cluster import RedisClusterNodes, binaries
from tests.support import services


@contextmanager
def running_cluster(path: Path, masters: int = 3, replicas: int = 0) -> Iterator[RedisClusterNodes]:
    if binaries() is None:
        services.unavailable("redis-server and redis-cli", FileNotFoundError("redis-server"))
    nodes = RedisClusterNodes(path, masters=masters, replicas=replicas)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()
