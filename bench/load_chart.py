"""Issue 15: the `loadChart` query over 7 days of 10 s readings (4 power
sources x 2 kinds, 4 circuits x 3 kinds and their capacity reports: ~60k
readings per series) at 1,000 points, against `{ __typename }` on the same
server, on PostgreSQL; with the SQL statements per request and the bytes
stored per reading."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.container import build_container
from app.settings import Settings
from bench.depots import insert_depots
from bench.measure import metrics, p99
from bench.report import Row, Show
from bench.serving import cli_together, serve
from bench.stores import Database
from domain import chart_intervals
from domain.access import EVERYWHERE
from domain.equipment import NewPowerSource, create_power_source
from domain.load_chart import bucket_seconds, check_range, load_chart, series_of
from domain.model import PowerSourceKind
from domain.problems import NotFound, ValidationFailed
from domain.readings import CapacityReport, Reading, ReadingKind
from persistence.database import create_engine
from persistence.partitions import epoch_us
from persistence.reading_store import BUCKETS_POSTGRESQL, BUCKETS_WORK_MEM

STEP = timedelta(seconds=10)
SOURCES = 4
CIRCUITS = 4
BATCH = timedelta(hours=6)
"""Readings written per transaction while loading."""

CHART_QUERY = """query ($d: ID!, $f: DateTime!, $t: DateTime!, $n: Int!) {
  loadChart(depotId: $d, from: $f, to: $t, maxPoints: $n) { __typename
    ... on LoadChart { bucketSeconds
      series { kind subjectId name unit points { at min avg max last } }
      capabilityIntervals { capability status freshness from to }
      capacitySourceIntervals { circuitId source from to } } } }"""


def _readings(
    depot: uuid.UUID,
    sources: list[uuid.UUID],
    circuits: list[uuid.UUID],
    start: datetime,
    end: datetime,
) -> tuple[list[Reading], list[CapacityReport]]:
    """Every 10 s in [start, end): each source's load and SOC, each circuit's
    capacity report (a 1 h heartbeat loss every day: fail-safe capacity) and
    its three capacity readings."""
    readings: list[Reading] = []
    reports: list[CapacityReport] = []
    at = start
    while at < end:
        t = at.timestamp()
        day = 2 * math.pi * (t % 86_400) / 86_400
        lost = 10 * 3600 <= t % 86_400 < 11 * 3600
        for i, s in enumerate(sources):
            readings.append(
                Reading(
                    depot, s, ReadingKind.POWER_SOURCE_LOAD_W, at, 5e4 * (1 + math.sin(day + i))
                )
            )
            soc = 50 + 40 * math.sin(day / 2 + i)
            readings.append(Reading(depot, s, ReadingKind.POWER_SOURCE_SOC_PERCENT, at, soc))
        for i, c in enumerate(circuits):
            available = 4e5 + 1e5 * math.cos(day + i)
            heartbeat = "connection_lost" if lost else "ok"
            reports.append(CapacityReport(depot, c, at, available, 1e5, heartbeat))
            effective = 1e5 if lost else available
            readings += [
                Reading(depot, c, ReadingKind.CIRCUIT_AVAILABLE_CAPACITY_W, at, available),
                Reading(depot, c, ReadingKind.CIRCUIT_FAIL_SAFE_CAPACITY_W, at, 1e5),
                Reading(depot, c, ReadingKind.CIRCUIT_EFFECTIVE_CAPACITY_W, at, effective),
            ]
        at += STEP
    return readings, reports


async def load_site(db: Database, days: int) -> tuple[str, str, int, datetime, datetime]:
    """A depot with 4 feeders (provisioned by the CLI) and 4 power sources,
    and ``days`` of readings up to now written through the readings store;
    returns (depot id, operator token, readings written, start, end)."""
    await insert_depots(db.dsn, 1, CIRCUITS)
    _, operator = await cli_together(
        db.url, ["backfill"], ["tokens", "create", "--role", "operator"]
    )
    conn = await asyncpg.connect(db.dsn)
    depot = await conn.fetchval("SELECT id FROM depots")
    circuits = [r["id"] for r in await conn.fetch("SELECT id FROM circuits ORDER BY name")]
    await conn.close()
    container = build_container(Settings(database_url=db.url))
    try:
        sources = []
        for i in range(SOURCES):
            made = await create_power_source(
                container.deps,
                EVERYWHERE,
                NewPowerSource(depot, PowerSourceKind.BATTERY, f"Battery {i}"),
            )
            sources.append(made.id)  # type: ignore[union-attr]
        end = datetime.now(UTC).replace(microsecond=0)
        start = end - timedelta(days=days)
        written, at = 0, start
        while at < end:
            readings, reports = _readings(depot, sources, circuits, at, min(at + BATCH, end))
            async with container.deps.uow() as uow:
                await uow.readings.add(readings, reports)
                await uow.commit()
            written += len(readings)
            at += BATCH
    finally:
        await container.close()
    return str(depot), operator.split()[-1], written, start, end


STORED = ("readings", "reading_rollups", "capacity_reports", "capacity_cells")
"""The chart's tables: the readings and capacity reports, and what PostgreSQL
keeps beside them to read them fast."""


async def stored_bytes(dsn: str) -> dict[str, int]:
    """Bytes of the chart's tables, every partition and index included, and
    their row counts (0 for a table this version does not have)."""
    conn = await asyncpg.connect(dsn)
    sizes = {}
    for table in STORED:
        present = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
        sizes[f"{table}_bytes"] = int(
            await conn.fetchval(
                """SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)
                   + pg_total_relation_size($1::regclass)
                   FROM pg_inherits WHERE inhparent = $1::regclass""",
                table,
            )
            if present
            else 0
        )
        sizes[f"{table}_rows"] = (
            await conn.fetchval(f"SELECT count(*) FROM {table}") if present else 0
        )
    await conn.close()
    return sizes


async def raw_buckets_ms(
    database_url: str, depot: str, start: datetime, end: datetime, width: int, repeat: int
) -> float:
    """Median ms of the bucket statement over the raw readings (what every
    width read before the rollups), at ``width``, on the same database."""
    engine = create_engine(database_url)
    low, high, width_us = epoch_us(start), epoch_us(end), width * 1_000_000
    params = {
        "depot": uuid.UUID(depot),
        "start": low,
        "end": high,
        "width": width_us,
        "first": low // width_us,
    }
    samples = []
    try:
        for _ in range(repeat):
            async with engine.begin() as conn:
                t = time.perf_counter()
                await conn.execute(BUCKETS_WORK_MEM)
                rows = (await conn.execute(BUCKETS_POSTGRESQL, params)).all()
                samples.append((time.perf_counter() - t) * 1000)
                assert rows
    finally:
        await engine.dispose()
    return statistics.median(samples)


async def where_the_time_goes(
    database_url: str, depot: str, start: datetime, end: datetime, points: int, repeat: int
) -> dict[str, float]:
    """In-process medians (ms) of the use case and of its parts on the same
    store: the bucket statement, the capacity-report statement, the
    capacity-source intervals over those reports, and the series built."""
    container = build_container(Settings(database_url=database_url))
    depot_id = uuid.UUID(depot)
    width = bucket_seconds(start, end, points)
    parts: dict[str, list[float]] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        parts.setdefault(name, []).append((now - since) * 1000)
        return now

    try:
        for _ in range(repeat):
            t = time.perf_counter()
            chart = await load_chart(container.deps, EVERYWHERE, depot_id, start, end, points)
            t = lap("use case", t)
            assert not isinstance(chart, NotFound | ValidationFailed), chart
            async with container.deps.uow(write=False) as uow:
                circuits = await uow.circuits.for_depot(depot_id)
                t = time.perf_counter()
                buckets = await uow.readings.buckets(depot_id, start, end, width)
                t = lap("buckets statement", t)
                reports = await uow.readings.capacity_runs(
                    depot_id, start, end, container.deps.stale_after_seconds
                )
                t = lap("capacity runs statement", t)
            chart_intervals.capacity_source_intervals(
                reports, circuits, start, end, end, container.deps.stale_after_seconds
            )
            t = lap("capacity-source intervals", t)
            chart_range = check_range(start, end, points)
            assert not isinstance(chart_range, ValidationFailed)
            series_of(chart_range, [], circuits, buckets)
            lap("series from buckets", t)
            parts.setdefault("buckets", []).append(len(buckets))
            parts.setdefault("capacity runs", []).append(len(reports))
    finally:
        await container.close()
    return {name: statistics.median(values) for name, values in parts.items()}


async def timed(
    client: httpx.AsyncClient, url: str, body: dict[str, object], n: int
) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.post(url, json=body)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200 and "errors" not in response.json(), response.text[:500]
    return samples


async def bench_load_chart(days: int, points: int, requests: int) -> dict[str, object]:
    async with Database() as db:
        loading = time.perf_counter()
        depot, token, written, start, end = await load_site(db, days)
        load_s = time.perf_counter() - loading
        sizes = await stored_bytes(db.dsn)
        with serve(db.url) as server:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(headers=headers, timeout=120) as client:
                variables = {
                    "d": depot,
                    "f": start.isoformat(),
                    "t": end.isoformat(),
                    "n": points,
                }
                body = {"query": CHART_QUERY, "variables": variables}
                first = (await client.post(server.url, json=body)).json()["data"]["loadChart"]
                filled = sum(p["last"] is not None for s in first["series"] for p in s["points"])
                await timed(client, server.url, body, 2)
                baseline = sorted(await timed(client, server.url, {"query": "{ __typename }"}, 50))
                before = await metrics(server.url)
                chart = sorted(await timed(client, server.url, body, requests))
                after = await metrics(server.url)
                response_bytes = len((await client.post(server.url, json=body)).content)
                day = {**variables, "f": (end - timedelta(days=1)).isoformat()}
                day_body = {"query": CHART_QUERY, "variables": day}
                day_first = (await client.post(server.url, json=day_body)).json()["data"]
                await timed(client, server.url, day_body, 2)
                last_day = sorted(await timed(client, server.url, day_body, requests))
                parts = await where_the_time_goes(db.url, depot, start, end, points, 3)
                parts["buckets statement over raw readings"] = await raw_buckets_ms(
                    db.url, depot, start, end, first["bucketSeconds"], 3
                )
    statements = (
        after["microgrid_db_statements_total"] - before["microgrid_db_statements_total"]
    ) / requests
    return {
        "days": days,
        "readings": written,
        "series": len(first["series"]),
        "points_per_series": len(first["series"][0]["points"]),
        "filled_points": filled,
        "bucket_seconds": first["bucketSeconds"],
        "requests": requests,
        "median_ms": statistics.median(chart) * 1000,
        "p99_ms": p99(chart) * 1000,
        "baseline_median_ms": statistics.median(baseline) * 1000,
        "baseline_p99_ms": p99(baseline) * 1000,
        "statements_per_request": statements,
        "response_bytes": response_bytes,
        "bytes_per_reading": (sizes["readings_bytes"] + sizes["reading_rollups_bytes"]) / written,
        "raw_bytes_per_reading": sizes["readings_bytes"] / written,
        "capacity_report_bytes_per_report": (
            sizes["capacity_reports_bytes"] + sizes["capacity_cells_bytes"]
        )
        / max(1, sizes["capacity_reports_rows"]),
        "sizes": sizes,
        "load_seconds": load_s,
        "in_process_ms": parts,
        "day_bucket_seconds": day_first["loadChart"]["bucketSeconds"],
        "day_points_per_series": len(day_first["loadChart"]["series"][0]["points"]),
        "day_median_ms": statistics.median(last_day) * 1000,
        "day_p99_ms": p99(last_day) * 1000,
    }


def run(quick: bool, show: Show) -> list[Row]:
    days = 1 if quick else 7
    r = asyncio.run(bench_load_chart(days, 1000, 5 if quick else 11))
    show("load_chart", r)
    return [
        (
            "loadChart (HTTP, PostgreSQL)",
            f"{days} d of 10 s readings, maxPoints 1,000: {r['series']} series x "
            f"{r['points_per_series']:,} points ({r['bucket_seconds']} s buckets)",
            f"median {r['median_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, "
            f"{r['statements_per_request']:.0f} SQL statements, "
            f"{r['response_bytes']:,} bytes; {r['bytes_per_reading']:.1f} bytes stored per reading",
            f"`{{ __typename }}` median {r['baseline_median_ms']:.1f} ms",
            f"{r['median_ms'] / r['baseline_median_ms']:.0f}x",  # type: ignore[operator]
        ),
        (
            "loadChart (HTTP, PostgreSQL), the last 24 h",
            f"same data, {r['series']} series x {r['day_points_per_series']:,} points "
            f"({r['day_bucket_seconds']} s buckets)",
            f"median {r['day_median_ms']:.0f} ms, p99 {r['day_p99_ms']:.0f} ms",
            f"`{{ __typename }}` median {r['baseline_median_ms']:.1f} ms",
            f"{r['day_median_ms'] / r['baseline_median_ms']:.0f}x",  # type: ignore[operator]
        ),
    ]
