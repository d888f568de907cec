"""Issue 16: a flat cost curve as data grows. Three fresh, migrated PostgreSQL
databases provisioned alike (``sites`` depots, each with a controller bound to
both capabilities and given all four sensor actions): one left EMPTY, one
holding only the last 24 h of the load, one loaded with ``packets`` sensor
packets (with their outcomes) spread over the last 30 days (the packet
retention window) across every device, written with COPY, plus what those
packets would have produced: two capability events each (kept for ever), a
power-source and a circuit reading and a capacity report each (through the
partitioned parents, one COPY per day, so the rollup triggers fold them).
A ``microgrid serve`` runs on each; they take turns, round by round, at:
``ingestSensorPacket`` throughput (4 connections), ``ingestSensorPackets`` at
50 per request, and the median latency of ``sensorPackets`` first page,
``capabilityHistory`` first page, the console's card (``ConsoleCard``) and
``loadChart`` over the last 24 h. Also bytes per stored packet and the
partition count.

Run: ``.venv/bin/python -m bench.growth --packets 1000000`` (or through
``bench.run --only growth``)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from app.ids import time_ordered_id
from bench.depots import provisioned_depots
from bench.load import post_load
from bench.load_chart import CHART_QUERY
from bench.packets import PACKETS, equip_sites, packet, packet_request
from bench.rawhttp import RawHttpConnection
from bench.report import Row, Show
from bench.serving import RunningServer, cli, serve
from bench.stores import Database, broker_env
from persistence import partitions
from persistence.database import create_engine

WINDOW = timedelta(days=30)
"""How far back the loaded packets and readings go (PACKET_RETENTION_DAYS)."""
HEAD = timedelta(hours=1)
"""The loaded rows stop this long before now; the measured ingest comes after."""
CAPABILITIES = (("PEAK_SHAVING", "LIMIT_PEAK_SHAVING"), ("DER", "LIMIT_DER_EXPORT"))
CONSOLE = Path(__file__).resolve().parents[1] / "graphql" / "operations" / "Console.graphql"
SENSOR_PACKETS = """query ($d: ID!) { sensorPackets(deviceId: $d, first: 50) {
  edges { cursor node { id observedAt receivedAt packet outcomes { action outcome code } } }
  pageInfo { hasNextPage endCursor } retainedSince } }"""
HISTORY = """query ($m: ID!) { microgrid(id: $m) { __typename ... on Microgrid {
  capabilityHistory(first: 50) { edges { cursor node { id capability value status
    observedAt receivedAt sequence } } pageInfo { hasNextPage endCursor } } } } }"""
FLIP_DENSITY = 1_000_000
"""DER flips every ``packets // FLIP_DENSITY`` packets of the whole load (on
every side alike): as many status changes per day at any size as the 1 M load
has, so the chart's intervals stay under the response's item cap at 10 M."""
FIGURES = ("ingest", "batch50", "sensorPackets", "capabilityHistory", "card", "loadChart")
"""Throughputs (packets/s) first, then read latencies (median ms)."""


def console_card_query() -> str:
    """The console's ConsoleCard query with its CardFields fragment, as sent."""
    text = CONSOLE.read_text()

    def block(start: str) -> str:
        begin = text.index(start)
        return text[begin : text.index("\n}\n", begin) + 2]

    return block("query ConsoleCard(") + "\n" + block("fragment CardFields ")


@dataclass
class Site:
    depot_id: str
    microgrid_id: str
    device_id: str
    battery_id: uuid.UUID
    circuit_id: uuid.UUID


@dataclass
class Side:
    """One database with its server and what the measurements need."""

    label: str
    db: Database
    server: RunningServer
    sites: list[Site]
    integration: str
    admin: str
    samples: dict[str, list[float]] = field(default_factory=dict)


async def _sites(dsn: str, depots: list[tuple[str, str]], devices: list[str]) -> list[Site]:
    conn = await asyncpg.connect(dsn)
    sites = []
    for (depot_id, microgrid_id), device_id in zip(depots, devices, strict=True):
        battery = await conn.fetchval(
            "SELECT id FROM power_sources WHERE depot_id = $1", uuid.UUID(depot_id)
        )
        circuit = await conn.fetchval(
            "SELECT circuit_id FROM devices WHERE id = $1", uuid.UUID(device_id)
        )
        sites.append(Site(depot_id, microgrid_id, device_id, battery, circuit))
    await conn.close()
    return sites


def _outcomes(site: Site, actions: dict[str, str]) -> str:
    targets = {
        "UPDATE_MICROGRID_STATE": site.microgrid_id,
        "UPDATE_POWER_SOURCE_STATE": str(site.battery_id),
        "UPDATE_POWER_SOURCE_LOAD": str(site.battery_id),
        "UPDATE_CIRCUIT_CAPACITY": str(site.circuit_id),
    }
    return json.dumps(
        [
            {
                "sensorActionId": actions.get(action),
                "action": action,
                "outcome": "APPLIED",
                "code": "APPLIED",
                "message": "Applied.",
                "targetId": target,
                "measurands": [],
            }
            for action, target in targets.items()
        ]
    )


def _spread(packets: int, sites: int, start: datetime, end: datetime) -> Iterator[list[int]]:
    """Per UTC day of [start, end): how many packets each site sends that day
    (evenly over the window)."""
    day = partitions.partition_starts(start)[0]
    total_us = (end - start) / timedelta(microseconds=1)
    while day < end:
        lo, hi = max(day, start), min(day + partitions.WIDTH, end)
        share = round(packets * ((hi - lo) / timedelta(microseconds=1)) / total_us)
        yield [share // sites + (1 if s < share % sites else 0) for s in range(sites)]
        day += partitions.WIDTH


async def load(
    dsn: str,
    sites: list[Site],
    packets: int,
    now: datetime,
    window: timedelta = WINDOW,
    flip: int = 1,
) -> float:
    """Writes ``packets`` packets and what they produce with COPY, one COPY per
    table per day; the seconds it took."""
    started = time.perf_counter()
    end = now - HEAD
    start = end - window
    conn = await asyncpg.connect(dsn)
    actions: dict[str, dict[str, str]] = {}
    for r in await conn.fetch("SELECT id, device_id, type FROM sensor_actions"):
        actions.setdefault(str(r["device_id"]), {})[str(r["type"])] = str(r["id"])
    sequence = dict.fromkeys((s.microgrid_id for s in sites), 0)
    day = partitions.partition_starts(start)[0]
    n = 0
    for counts in _spread(packets, len(sites), start, end):
        lo, hi = max(day, start), min(day + partitions.WIDTH, end)
        rows_p, rows_e, rows_r, rows_c = [], [], [], []
        for site, count in zip(sites, counts, strict=True):
            if not count:
                continue
            outcomes = _outcomes(site, actions.get(site.device_id, {}))
            step = (hi - lo) / count
            depot = uuid.UUID(site.depot_id)
            stream = uuid.UUID(site.microgrid_id)
            for i in range(count):
                at = lo + step * i
                ms = int(at.timestamp() * 1000)
                at = datetime.fromtimestamp(ms / 1000, UTC)
                body = packet(site.device_id, ms, n)
                rows_p.append(
                    (
                        time_ordered_id(ms),
                        uuid.UUID(site.device_id),
                        at,
                        at,
                        json.dumps(body),
                        outcomes,
                    )
                )
                for capability, key in CAPABILITIES:
                    sequence[site.microgrid_id] += 1
                    ref = f"{site.device_id}:{ms}:{key}"
                    value = capability == "DER" and (n // flip) % 2 == 1
                    payload = {
                        "capability": capability,
                        "value": value,
                        "observedAt": at.isoformat(),
                        "providerEventRef": ref,
                        "sourceDeviceId": site.device_id,
                        "appliedToLatest": True,
                    }
                    rows_e.append(
                        (
                            *(time_ordered_id(ms), stream, sequence[site.microgrid_id]),
                            *("CapabilityStatusRecorded", capability, f"{capability}:{ref}"),
                            *(json.dumps(payload), at, at, value),
                        )
                    )
                us = partitions.epoch_us(at)
                rows_r.append(
                    (depot, site.battery_id, us, 1000.0 + n, float(n % 100), None, None, None)
                )
                rows_r.append((depot, site.circuit_id, us, None, None, 2.5e5, 8e4, 2.5e5))
                rows_c.append((depot, site.circuit_id, us, 2.5e5, 8e4, "ok"))
                n += 1
        async with conn.transaction():
            await conn.copy_records_to_table(
                "sensor_packets",
                records=rows_p,
                columns=["id", "device_id", "observed_at", "received_at", "packet", "outcomes"],
            )
            await conn.copy_records_to_table(
                "events",
                records=rows_e,
                columns=[
                    *("id", "stream_id", "sequence", "event_type", "subject"),
                    *("idempotency_key", "payload", "recorded_at", "observed_at", "value"),
                ],
            )
            await conn.copy_records_to_table(
                "readings",
                records=rows_r,
                columns=[
                    *("depot_id", "subject_id", "observed_us", "load_w", "soc_percent"),
                    *("available_w", "fail_safe_w", "effective_w"),
                ],
            )
            await conn.copy_records_to_table(
                "capacity_reports",
                records=rows_c,
                columns=[
                    *("depot_id", "circuit_id", "observed_us", "available_w", "fail_safe_w"),
                    "heartbeat",
                ],
            )
        day += partitions.WIDTH
    await conn.executemany(
        "INSERT INTO event_streams (stream_id, last_sequence) VALUES ($1, $2)",
        [(uuid.UUID(m), s) for m, s in sequence.items()],
    )
    await conn.execute("VACUUM ANALYZE")
    await conn.close()
    return time.perf_counter() - started


async def storage(dsn: str) -> dict[str, float]:
    """Bytes of the packet partitions (with indexes) per packet, bytes of the
    whole database, and the partition counts."""
    conn = await asyncpg.connect(dsn)
    packets = await conn.fetchval("SELECT count(*) FROM sensor_packets")
    packet_bytes = await conn.fetchval(
        "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
        "WHERE inhparent = 'sensor_packets'::regclass"
    )
    counts = {
        table: await conn.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass", table
        )
        for table in ("sensor_packets", "readings", "capacity_reports", "reading_rollups")
    }
    database = await conn.fetchval("SELECT pg_database_size(current_database())")
    events = await conn.fetchval("SELECT count(*) FROM events")
    event_bytes = await conn.fetchval("SELECT pg_total_relation_size('events')")
    reading_bytes = await conn.fetchval(
        "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
        "WHERE inhparent IN ('readings'::regclass, 'capacity_reports'::regclass, "
        "'reading_rollups'::regclass, 'capacity_cells'::regclass)"
    )
    await conn.close()
    return {
        "packets": packets,
        "events": events,
        "packet_bytes_per_packet": float(packet_bytes) / packets if packets else 0.0,
        "event_bytes_per_event": event_bytes / events if events else 0.0,
        "reading_bytes_per_packet": float(reading_bytes) / packets if packets else 0.0,
        "database_bytes": database,
        "packet_partitions": counts["sensor_packets"],
        "reading_partitions": sum(counts.values()) - counts["sensor_packets"],
    }


async def _median_ms(url: str, token: str, body: Callable[[int], object], times: int) -> float:
    connection = RawHttpConnection(url, {"Authorization": f"Bearer {token}"})
    latencies = []
    try:
        for n in range(times):
            start = time.perf_counter()
            status, answer = await connection.post_json(body(n))
            latencies.append(time.perf_counter() - start)
            assert status == 200 and "errors" not in answer, answer
    finally:
        await connection.close()
    return statistics.median(latencies) * 1e3


async def measure(side: Side, clock: Iterator[int], base_ms: int, quick: bool) -> None:
    """One round of every figure on one side."""
    sites, url = side.sites, side.server.url
    headers = {"Authorization": f"Bearer {side.integration}"}

    def single(n: int) -> dict[str, object]:
        return packet_request(sites[n % len(sites)].device_id, base_ms + next(clock), n)

    def batch(n: int) -> dict[str, object]:
        device = sites[n % len(sites)].device_id
        return {
            "query": PACKETS,
            "variables": {"p": [packet(device, base_ms + next(clock), n) for _ in range(50)]},
        }

    rate, _ = await post_load(url, single, 60 if quick else 300, 4, headers)
    side.samples.setdefault("ingest", []).append(rate)
    rate, _ = await post_load(url, batch, 4 if quick else 12, 4, headers)
    side.samples.setdefault("batch50", []).append(rate * 50)
    times = 10 if quick else 30
    now = datetime.now(UTC)
    card = console_card_query()
    reads: dict[str, Callable[[int], object]] = {
        "sensorPackets": lambda n: {
            "query": SENSOR_PACKETS,
            "variables": {"d": sites[n % len(sites)].device_id},
        },
        "capabilityHistory": lambda n: {
            "query": HISTORY,
            "variables": {"m": sites[n % len(sites)].microgrid_id},
        },
        "card": lambda n: {
            "query": card,
            "variables": {"depotId": sites[n % len(sites)].depot_id},
        },
        "loadChart": lambda n: {
            "query": CHART_QUERY,
            "variables": {
                "d": sites[n % len(sites)].depot_id,
                "f": (now - timedelta(hours=24)).isoformat(),
                "t": now.isoformat(),
                "n": 1000,
            },
        },
    }
    for name, body in reads.items():
        try:
            ms = await _median_ms(url, side.admin, body, times)
        except AssertionError as refused:
            print(f"{side.label}: {name} refused: {str(refused)[:300]}", flush=True)
            ms = float("nan")
        side.samples.setdefault(name, []).append(ms)


async def _prepare(
    db: Database,
    sites: int,
    stack: ExitStack,
    label: str,
    packets: int,
    window: timedelta,
    flip: int,
) -> tuple[Side, float]:
    """A provisioned side loaded with ``packets`` over ``window``; its server
    starts after the load, a fresh process as after a deploy."""
    depots, integration, _ = await provisioned_depots(db, sites)
    admin = cli(db.url, "tokens", "create", "--role", "admin").split()[-1]
    with serve(db.url, **broker_env()) as setup:
        devices = await equip_sites(setup.url, admin, db.dsn, depots)
    found = await _sites(db.dsn, depots, devices)
    now = datetime.now(UTC)
    seconds = await load(db.dsn, found, packets, now, window, flip) if packets else 0.0
    print(f"{label}: loaded {packets:,} packets in {seconds:.0f} s", flush=True)
    server = stack.enter_context(serve(db.url, **broker_env()))
    return Side(label, db, server, found, integration, admin), seconds


SIDES = ("empty", "day", "large")
"""An empty database; one holding only the last 24 h of the load (what the
chart and the first pages read, without the older days); the whole load."""


async def _reused(db: Database, label: str, stack: ExitStack) -> Side:
    """A side from a database a ``--keep`` run left: its sites as found, new tokens."""
    conn = await asyncpg.connect(db.dsn)
    rows = await conn.fetch(
        "SELECT m.depot_id, m.id, d.id AS device FROM microgrids m "
        "JOIN devices d ON d.depot_id = m.depot_id WHERE m.retired_at IS NULL ORDER BY m.depot_id"
    )
    await conn.close()
    depots = [(str(r["depot_id"]), str(r["id"])) for r in rows]
    found = await _sites(db.dsn, depots, [str(r["device"]) for r in rows])
    integration, admin = (
        cli(db.url, "tokens", "create", "--role", role).split()[-1]
        for role in ("integration", "admin")
    )
    server = stack.enter_context(serve(db.url, **broker_env()))
    return Side(label, db, server, found, integration, admin)


async def remeasure(names: list[str], rounds: int) -> dict[str, object]:
    """The measurements again, on the three databases (empty, last 24 h only,
    large) a ``--keep`` run left behind: no provisioning, no load."""
    dbs = [Database(name, keep=True) for name in names]
    with ExitStack() as stack:
        sides = [await _reused(db, label, stack) for db, label in zip(dbs, SIDES, strict=True)]
        return await _rounds(sides, rounds, False, load_seconds=0.0, packets=0)


async def _rounds(
    sides: list[Side], rounds: int, quick: bool, load_seconds: float, packets: int
) -> dict[str, object]:
    base_ms = int(datetime.now(UTC).timestamp() * 1000) - int(HEAD / timedelta(milliseconds=2))
    clock = itertools.count()
    for side in sides:  # warm-up: every statement prepared, caches filled
        await measure(side, clock, base_ms, True)
        side.samples.clear()
    loads = []
    for round_ in range(rounds):
        shift = round_ % len(sides)
        for side in sides[shift:] + sides[:shift]:
            await measure(side, clock, base_ms, quick)
        loads.append(os.getloadavg()[0])
    sizes = {side.label: await storage(side.db.dsn) for side in sides}
    large = sizes["large"]["packets"]
    return {
        "packets": packets or large,
        "sites": len(sides[0].sites),
        "rounds": rounds,
        "load_seconds": load_seconds,
        "load_average": max(loads),
        "figures": {
            side.label: {name: statistics.median(v) for name, v in side.samples.items()}
            for side in sides
        },
        "storage": sizes,
    }


async def bench_growth(
    packets: int, sites: int, rounds: int, quick: bool, keep: bool = False
) -> dict[str, object]:
    """The three :data:`SIDES`, their servers taking turns; ``keep`` leaves the
    databases behind (to look into them; drop them by hand)."""
    now = datetime.now(UTC)
    day = round(packets * (timedelta(days=1) / WINDOW))
    plan = {"empty": (0, WINDOW), "day": (day, timedelta(days=1)), "large": (packets, WINDOW)}
    async with Database(keep=keep) as a, Database(keep=keep) as b, Database(keep=keep) as c:
        dbs = dict(zip(SIDES, (a, b, c), strict=True))
        for db in dbs.values():
            engine = create_engine(db.url)
            await partitions.ensure_partitions(engine, now, since=now - WINDOW - HEAD)
            await engine.dispose()
        with ExitStack() as stack:
            sides, load_s = [], 0.0
            for label in SIDES:
                side, seconds = await _prepare(
                    dbs[label], sites, stack, label, *plan[label], max(1, packets // FLIP_DENSITY)
                )
                sides.append(side)
                load_s += seconds
            return await _rounds(sides, rounds, quick, load_s, packets)


def rows(result: dict[str, object]) -> list[Row]:
    figures: dict[str, dict[str, float]] = result["figures"]  # type: ignore[assignment]
    storage_: dict[str, dict[str, float]] = result["storage"]  # type: ignore[assignment]
    large, empty, day = figures["large"], figures["empty"], figures["day"]
    size = f"{result['packets']:,} packets over 30 days, {result['sites']} sites"
    out: list[Row] = []
    for name in FIGURES:
        if name in ("ingest", "batch50"):
            what = "ingestSensorPacket" if name == "ingest" else "ingestSensorPackets at 50"
            out.append(
                (
                    f"growth: {what}, 4 connections",
                    size,
                    f"{large[name]:.0f} packets/s",
                    f"empty {empty[name]:.0f}; last 24 h only {day[name]:.0f} packets/s",
                    f"{large[name] / empty[name]:.2f} / {large[name] / day[name]:.2f}",
                )
            )
        else:
            out.append(
                (
                    f"growth: {name} (median, 1 connection)",
                    size,
                    f"{large[name]:.1f} ms",
                    f"empty {empty[name]:.1f} ms; last 24 h only {day[name]:.1f} ms",
                    f"{empty[name] / large[name]:.2f} / {day[name] / large[name]:.2f}",
                )
            )
    big = storage_["large"]
    out.append(
        (
            "growth: storage",
            size,
            f"{big['packet_bytes_per_packet']:.0f} B/packet (partitions with indexes), "
            f"{big['packet_partitions']:.0f} packet partitions",
            f"events {big['event_bytes_per_event']:.0f} B each ({big['events']:,.0f}), "
            f"readings + rollups {big['reading_bytes_per_packet']:.0f} B/packet; "
            f"database {big['database_bytes'] / 2**30:.2f} GiB",
            "",
        )
    )
    return out


def run(quick: bool, show: Show) -> list[Row]:
    result = asyncio.run(bench_growth(20_000 if quick else 1_000_000, 16, 2 if quick else 3, quick))
    show("growth", result)
    return rows(result)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the three databases behind")
    parser.add_argument(
        "--reuse",
        metavar="EMPTY,DAY,LARGE",
        help="measure again on the three databases a --keep run left (no load)",
    )
    args = parser.parse_args()
    if args.reuse:
        result = asyncio.run(remeasure(args.reuse.split(","), args.rounds))
    else:
        result = asyncio.run(bench_growth(args.packets, args.sites, args.rounds, False, args.keep))
    print(json.dumps(result, indent=1, default=str))
    for row in rows(result):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
