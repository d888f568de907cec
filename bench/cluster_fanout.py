"""Card fan-out on a Redis Cluster with sharded pub/sub against one Redis, in the
same run (issue 18): 50 microgrids whose card subscribers are split over two
server processes, each process following half of them. Measures ingest-to-
screen latency and the change notices each process receives per change: with
one Redis channel every process hears every change; with sharded pub/sub only
the processes that follow the microgrid."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path

from bench.depots import provisioned_depots
from bench.measure import metrics, p99
from bench.rawhttp import RawHttpConnection
from bench.rawws import RawSubscriber
from bench.redis_cluster import RedisClusterNodes
from bench.report import Row, Show
from bench.serving import serve
from bench.statuses import ingest_request
from bench.stores import Database, broker_env
from bench.subscribers import CARD_SUB, Arrivals, no_client_gc, open_in_batches

MICROGRIDS = 50
PROCESSES = 2
NOTICES = "microgrid_broker_notices_received_total"


async def bench_sharded(
    env: dict[str, str], label: str, per_microgrid: int, rounds: int
) -> dict[str, object]:
    """``per_microgrid`` card subscribers on each of 50 microgrids, microgrid i's
    on process i % 2; ``rounds`` changes per microgrid, posted one at a time to
    the processes in turn, each timed until all its subscribers have it."""
    async with Database() as db:
        depots, token, operator = await provisioned_depots(db, MICROGRIDS)
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(serve(db.url, None, **env)) for _ in range(PROCESSES)]
            posters = [
                RawHttpConnection(s.url, {"Authorization": f"Bearer {token}"}) for s in servers
            ]
            arrivals = Arrivals()
            subscribers: dict[str, list[RawSubscriber]] = {}
            for i, (depot_id, microgrid_id) in enumerate(depots):
                arrivals.expect(per_microgrid)
                ws_url = servers[i % PROCESSES].ws_url

                def one(
                    _: int, ws_url: str = ws_url, depot_id: str = depot_id
                ) -> Awaitable[RawSubscriber]:
                    return RawSubscriber.open(
                        ws_url, operator, CARD_SUB, {"depotId": depot_id}, arrivals
                    )

                subscribers[microgrid_id] = await open_in_batches(one, range(per_microgrid))
                await asyncio.wait_for(arrivals.done.wait(), 60)  # every snapshot
            latencies: list[float] = []
            before = [await metrics(s.url) for s in servers]
            changes = 0
            with no_client_gc():
                for n in range(rounds):
                    for i, (_, microgrid_id) in enumerate(depots):
                        mine = subscribers[microgrid_id]
                        received = len(mine[0].messages)
                        arrivals.expect(per_microgrid)
                        start = time.perf_counter()
                        status, body = await posters[(i + n) % PROCESSES].post_json(
                            ingest_request(microgrid_id, n)
                        )
                        assert status == 200 and "errors" not in body, body
                        await asyncio.wait_for(arrivals.done.wait(), 60)
                        latencies += [sub.messages[received][0] - start for sub in mine]
                        changes += 1
            after = [await metrics(s.url) for s in servers]
            for poster in posters:
                await poster.close()
            for group in subscribers.values():
                for sub in group:
                    sub.close()
    latencies.sort()
    return {
        "broker": label,
        "subscribers": per_microgrid * MICROGRIDS,
        "changes": changes,
        "median_ms": statistics.median(latencies) * 1e3,
        "p99_ms": p99(latencies) * 1e3,
        "notices_per_change_by_process": [
            round((a[NOTICES] - b[NOTICES]) / changes, 3)
            for a, b in zip(after, before, strict=True)
        ],
        "card_reads_per_change_by_process": [
            round((a["microgrid_card_reads_total"] - b["microgrid_card_reads_total"]) / changes, 3)
            for a, b in zip(after, before, strict=True)
        ],
    }


def run(quick: bool, show: Show) -> list[Row]:
    """The two brokers take turns (single, cluster, single, cluster), so drift in
    the shared machine's load falls on both alike; each turn's rows pool."""
    per_microgrid, rounds, turns = (4, 2, 1) if quick else (10, 3, 2)
    results: dict[str, list[dict[str, object]]] = {"single": [], "cluster": []}
    with tempfile.TemporaryDirectory(prefix="mgs-cluster-") as workdir:
        nodes = RedisClusterNodes(Path(workdir), masters=3, replicas=0)
        nodes.start()
        try:
            cluster_env = {
                "REDIS_URL": nodes.url,
                "REDIS_CHANNEL": f"bench:{uuid.uuid4().hex}",
                "ACCESS_LOG": "false",
            }
            for _ in range(turns):
                for label, env in (("single", broker_env()), ("cluster", cluster_env)):
                    result = asyncio.run(bench_sharded(env, label, per_microgrid, rounds))
                    show("sharded fan-out", result)
                    results[label].append(result)
        finally:
            nodes.stop()
    return [_row(results["cluster"], results["single"])]


def _row(cluster: list[dict[str, object]], single: list[dict[str, object]]) -> Row:
    def median_of(rows: list[dict[str, object]], key: str) -> float:
        return statistics.median(float(r[key]) for r in rows)  # type: ignore[arg-type]

    c_med, c_p99 = median_of(cluster, "median_ms"), median_of(cluster, "p99_ms")
    s_med, s_p99 = median_of(single, "median_ms"), median_of(single, "p99_ms")
    size = (
        f"{MICROGRIDS} microgrids, {cluster[0]['subscribers']} subscribers over {PROCESSES} "
        f"processes (each follows half), {sum(int(r['changes']) for r in cluster)} changes "  # type: ignore[call-overload]
        f"per side, {len(cluster)} turn(s)"
    )
    result = (
        f"Redis Cluster (3 primaries, SPUBLISH/SSUBSCRIBE): median {c_med:.0f} ms, "
        f"p99 {c_p99:.0f} ms; notices per process per change "
        f"{cluster[-1]['notices_per_change_by_process']}"
    )
    baseline = (
        f"one Redis channel: median {s_med:.0f} ms, p99 {s_p99:.0f} ms; notices per process "
        f"per change {single[-1]['notices_per_change_by_process']}"
    )
    ratio = f"median {c_med / s_med:.2f}x, p99 {c_p99 / s_p99:.2f}x"
    return ("sharded pub/sub fan-out, ingest to screen", size, result, baseline, ratio)
