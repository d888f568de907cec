"""Card fan-out: from posting a status until each `microgridCard` subscriber
has the update, on one or two server processes, against the bare floors of
bench/fanout_floor.py."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable

from bench.depots import provisioned_depots
from bench.fanout_floor import bench_fanout_floor
from bench.measure import metrics, p99, rss_kib
from bench.rawhttp import RawHttpConnection
from bench.rawws import RawSubscriber
from bench.report import Row, Show
from bench.serving import serve
from bench.statuses import ingest_request
from bench.stores import Database, broker_env
from bench.subscribers import CARD_SUB, Arrivals, card_revision, no_client_gc, open_in_batches


async def bench_fanout(
    subscriber_counts: list[int], posts: int, processes: int = 1, settle: float = 1.0
) -> list[dict[str, object]]:
    """Ingest-to-subscriber latency: post a status, time until each card subscriber
    has the update (PostgreSQL + Redis), with ``processes`` servers sharing the
    subscribers round-robin. Also counts each server's SQL statements and card
    reads per change (from /metrics) and the server RSS per idle subscription
    (read ``settle`` seconds after the subscribers are open)."""
    results = []
    async with Database() as db:
        [(depot_id, microgrid_id)], token, operator = await provisioned_depots(db)
        env = broker_env()
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(serve(db.url, **env)) for _ in range(processes)]
            poster = RawHttpConnection(servers[0].url, {"Authorization": f"Bearer {token}"})
            for n in range(5):
                await poster.post_json(ingest_request(microgrid_id, n))
            for count in subscriber_counts:
                await asyncio.sleep(settle / 2)
                rss_before = [rss_kib(s.process.pid) for s in servers]
                arrivals = Arrivals()
                arrivals.expect(count)
                rss_half: list[int] = []

                def subscriber(i: int, arrivals: Arrivals = arrivals) -> Awaitable[RawSubscriber]:
                    return RawSubscriber.open(
                        servers[i % processes].ws_url,
                        operator,
                        CARD_SUB,
                        {"depotId": depot_id},
                        arrivals,
                    )

                half = count // 2 if count >= 100 else count
                subscribers = await open_in_batches(subscriber, range(half))
                if half < count:
                    await asyncio.sleep(settle)
                    rss_half = [rss_kib(s.process.pid) for s in servers]
                    subscribers += await open_in_batches(subscriber, range(half, count))
                await asyncio.wait_for(arrivals.done.wait(), 60)  # every snapshot
                await asyncio.sleep(settle)
                rss_after = [rss_kib(s.process.pid) for s in servers]
                # The marginal cost: RSS growth over the second half of the
                # subscribers, so per-process warm-up (arenas, caches) cancels out.
                rss_base, added = (
                    (rss_half, count - count // 2) if rss_half else (rss_before, count)
                )
                latencies: list[float] = []
                statements: list[list[float]] = [[] for _ in servers]
                card_reads: list[list[float]] = [[] for _ in servers]
                with no_client_gc():
                    for n in range(posts):
                        await asyncio.sleep(0.05)
                        before = [await metrics(s.url) for s in servers]
                        received = len(subscribers[0].messages)
                        arrivals.expect(count)
                        start = time.perf_counter()
                        status, body = await poster.post_json(ingest_request(microgrid_id, n))
                        assert status == 200 and "errors" not in body, body
                        await asyncio.wait_for(arrivals.done.wait(), 60)
                        latencies += [sub.messages[received][0] - start for sub in subscribers]
                        after = [await metrics(s.url) for s in servers]
                        for i, (b, a) in enumerate(zip(before, after, strict=True)):
                            statements[i].append(
                                a["microgrid_db_statements_total"]
                                - b["microgrid_db_statements_total"]
                            )
                            card_reads[i].append(
                                a["microgrid_card_reads_total"] - b["microgrid_card_reads_total"]
                            )
                revisions = {card_revision(sub.messages[-1][1]) for sub in subscribers}
                for sub in subscribers:
                    sub.close()
                latencies.sort()
                results.append(
                    {
                        "processes": processes,
                        "subscribers": count,
                        "posts": posts,
                        "median_ms": statistics.median(latencies) * 1e3,
                        "p99_ms": p99(latencies) * 1e3,
                        "statements_per_change_by_process": [
                            statistics.median(x) for x in statements
                        ],
                        "card_reads_per_change_by_process": [
                            statistics.median(x) for x in card_reads
                        ],
                        "rss_per_subscription_kib": (sum(rss_after) - sum(rss_base)) / added,
                        "final_revisions_seen": sorted(revisions),
                    }
                )
            await poster.close()
    return results


def run(quick: bool, show: Show) -> list[Row]:
    # Quick: 500 subscribers, since opening each costs the server a token check
    # and a card read (bench/README.md, "Sizes and clients").
    posts, most, settle = (3, 500, 0.4) if quick else (20, 1000, 1.0)
    results = asyncio.run(bench_fanout([1, 100, most], posts, settle=settle))
    results += asyncio.run(bench_fanout([most], posts, processes=2, settle=settle))
    floor = asyncio.run(bench_fanout_floor(most, posts, settle=settle))
    show("fanout floor", floor)
    rows: list[Row] = []
    for f in results:
        show("fanout", f)
        rows.append(_row(f, floor if f["subscribers"] == most else None))
    return rows


def _row(f: dict[str, object], floor: dict[str, object] | None) -> Row:
    """One table row; the floors and ratios only beside the floor's size."""
    memory = (
        f"; {f['rss_per_subscription_kib']:.0f} KiB RSS per subscription"
        if f["subscribers"] >= 100  # type: ignore[operator]
        else ""
    )
    result = (
        f"median {f['median_ms']:.0f} ms, p99 {f['p99_ms']:.0f} ms; SQL per change "
        f"by process {f['statements_per_change_by_process']}, card reads "
        f"{f['card_reads_per_change_by_process']}{memory}"
    )
    if floor is None:
        return ("card fan-out, ingest to screen", _size(f), result, "—", "—")
    baseline = (
        "bare Starlette broadcast, a task per socket: median "
        f"{floor['median_ms_tasks']:.0f} ms, p99 {floor['p99_ms_tasks']:.0f} ms; "
        f"from one loop: median {floor['median_ms_loop']:.0f} ms, "
        f"p99 {floor['p99_ms_loop']:.0f} ms; "
        f"{floor['rss_per_connection_kib']:.0f} KiB per connection"
    )
    ratio = (
        f"p99 {f['p99_ms'] / floor['p99_ms_tasks']:.1f}x task floor, "  # type: ignore[operator]
        f"{f['p99_ms'] / floor['p99_ms_loop']:.1f}x loop floor"  # type: ignore[operator]
    )
    return ("card fan-out, ingest to screen", _size(f), result, baseline, ratio)


def _size(f: dict[str, object]) -> str:
    return f"{f['subscribers']:,} subscribers on {f['processes']} process(es)"
