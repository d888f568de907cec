"""The `microgrid` query with its topology, for depots of N circuits, against
`{ __typename }` on the same server."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import asyncpg
import httpx

from bench.depots import CIRCUIT_COLUMNS, NOW
from bench.measure import metrics, p99
from bench.report import Row, Show
from bench.serving import cli, serve
from bench.stores import Database

TOPOLOGY_QUERY = """query ($id: ID!) { microgrid(id: $id) { ... on Microgrid {
  id version gridConnections { id name position circuit { id name } }
  topology { id parentId kind name depth gridConnectionId }
  drift { inSync } } } }"""


async def insert_tree(dsn: str, circuits: int, levels: int) -> str:
    """One depot whose circuits form a `levels`-deep tree; returns the depot id."""
    conn = await asyncpg.connect(dsn)
    depot_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO depots (id, name, created_at) VALUES ($1, $2, $3)", depot_id, "Big depot", NOW
    )
    per_level = circuits // levels
    rows, previous = [], [None]
    for level in range(levels):
        count = per_level if level < levels - 1 else circuits - per_level * (levels - 1)
        current = [uuid.uuid4() for _ in range(count)]
        rows += [
            (cid, depot_id, previous[i % len(previous)], f"L{level}-{i}", i, 1000.0, NOW)
            for i, cid in enumerate(current)
        ]
        previous = current
    await conn.copy_records_to_table(
        "circuits",
        records=rows,
        columns=CIRCUIT_COLUMNS,
    )
    await conn.close()
    return str(depot_id)


async def timed(
    client: httpx.AsyncClient, url: str, body: dict[str, object], n: int
) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.post(url, json=body)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    return samples


async def bench_topology(sizes: list[int], requests: int) -> list[dict[str, object]]:
    """The `microgrid` query with topology for depots of N circuits (a 6-level
    tree each), over HTTP to one real server: median / p99 latency and SQL
    statements per request (from /metrics); baseline `{ __typename }` on the
    same server."""
    async with Database() as db:
        depots = [await insert_tree(db.dsn, circuits, 6) for circuits in sizes]
        cli(db.url, "backfill")
        token = cli(db.url, "tokens", "create", "--role", "operator").strip().splitlines()[-1]
        conn = await asyncpg.connect(db.dsn)
        microgrids = [
            str(await conn.fetchval("SELECT id FROM microgrids WHERE depot_id = $1", uuid.UUID(d)))
            for d in depots
        ]
        await conn.close()
        rows = []
        with serve(db.url) as server:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(headers=headers, timeout=120) as client:
                baseline = await timed(client, server.url, {"query": "{ __typename }"}, 50)
                b_ms = statistics.median(baseline) * 1000
                for circuits, microgrid_id in zip(sizes, microgrids, strict=True):
                    body = {"query": TOPOLOGY_QUERY, "variables": {"id": microgrid_id}}
                    first = await client.post(server.url, json=body)
                    nodes = len(first.json()["data"]["microgrid"]["topology"])
                    await timed(client, server.url, body, 2)
                    before = await metrics(server.url)
                    query = sorted(await timed(client, server.url, body, requests))
                    after = await metrics(server.url)
                    statements = (
                        after["microgrid_db_statements_total"]
                        - before["microgrid_db_statements_total"]
                    ) / requests
                    q_ms = statistics.median(query) * 1000
                    rows.append(
                        {
                            "circuits": circuits,
                            "topology_nodes": nodes,
                            "requests": requests,
                            "median_ms": q_ms,
                            "p99_ms": p99(query) * 1000,
                            "ms_per_1000_circuits": q_ms / circuits * 1000,
                            "statements_per_request": statements,
                            "baseline_median_ms": b_ms,
                        }
                    )
    return rows


def run(quick: bool, show: Show) -> list[Row]:
    sizes = [1_000, 2_000, 4_000] if quick else [1_000, 5_000, 10_000]
    rows: list[Row] = []
    for t in asyncio.run(bench_topology(sizes, 3 if quick else 21)):
        show("topology", t)
        rows.append(
            (
                "topology query",
                f"{t['circuits']:,} circuits",
                f"median {t['median_ms']:.0f} ms, p99 {t['p99_ms']:.0f} ms, "
                f"{t['ms_per_1000_circuits']:.0f} ms per 1k circuits, "
                f"{t['statements_per_request']:.0f} SQL statements",
                f"`{{ __typename }}` median {t['baseline_median_ms']:.1f} ms",
                f"{t['median_ms'] / t['baseline_median_ms']:.0f}x",  # type: ignore[operator]
            )
        )
    return rows
