"""Benchmarks, run on demand (never as timed tests). Loopback only, bounded.

    .venv/bin/python bench/run.py            # full sizes (PostgreSQL at TEST_POSTGRES_DSN)
    .venv/bin/python bench/run.py --quick    # small sizes, well under 2 minutes

Each benchmark reports medians and a ratio against a baseline measured in the
same run, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.rawhttp import RawHttpConnection  # noqa: E402
from bench.rawws import RawSubscriber  # noqa: E402
from bench.serving import cli, free_port, serve, stop  # noqa: E402
from persistence import schema_upgrade as migrations  # noqa: E402

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BIN = Path(sys.executable).parent / "microgrid"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


CIRCUIT_COLUMNS = [
    "id",
    "depot_id",
    "parent_id",
    "name",
    "position",
    "safe_capacity_w",
    "created_at",
]


class Database:
    """A fresh, migrated PostgreSQL database for one benchmark, dropped afterwards."""

    def __init__(self) -> None:
        self.name = f"mgs_bench_{uuid.uuid4().hex[:10]}"
        self.dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + self.name
        self.url = self.dsn.replace("postgresql://", "postgresql+asyncpg://")

    async def __aenter__(self) -> Database:
        conn = await asyncpg.connect(ADMIN_DSN)
        await conn.execute(f'CREATE DATABASE "{self.name}"')
        await conn.close()
        await migrations.upgrade_async(self.url)
        return self

    async def __aexit__(self, *_: object) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await conn.close()


async def insert_depots(dsn: str, depots: int, top_level: int) -> None:
    conn = await asyncpg.connect(dsn)
    depot_rows, circuit_rows = [], []
    for d in range(depots):
        depot_id = uuid.uuid4()
        depot_rows.append((depot_id, f"Depot {d:06d}", NOW))
        circuit_rows += [
            (uuid.uuid4(), depot_id, None, f"Feeder {c}", c, None, NOW) for c in range(top_level)
        ]
    await conn.copy_records_to_table(
        "depots", records=depot_rows, columns=["id", "name", "created_at"]
    )
    await conn.copy_records_to_table(
        "circuits",
        records=circuit_rows,
        columns=CIRCUIT_COLUMNS,
    )
    await conn.close()


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), int(out[1])


async def bench_backfill(depots: int, repeats: int) -> dict[str, object]:
    """`microgrid backfill` over N unprovisioned depots with 5 top-level circuits each,
    against the floor: one INSERT ... SELECT doing the same rows in SQL."""
    runs, rss, floor = [], [], []
    for _ in range(repeats):
        async with Database() as db:
            await insert_depots(db.dsn, depots, 5)
            env = {**os.environ, "DATABASE_URL": db.url}
            seconds, peak = run_measured([str(BIN), "backfill"], env)
            runs.append(seconds)
            rss.append(peak)
            conn = await asyncpg.connect(db.dsn)
            created = await conn.fetchval("SELECT count(*) FROM microgrids")
            nodes = await conn.fetchval("SELECT count(*) FROM microgrid_nodes")
            assert (created, nodes) == (depots, depots * 5), (created, nodes)
            await conn.execute("DELETE FROM microgrid_nodes; DELETE FROM microgrids")
            start = time.perf_counter()
            await conn.execute("""
                INSERT INTO microgrids (id, depot_id, version, created_at, updated_at)
                SELECT gen_random_uuid(), id, 1, now(), now() FROM depots;
                INSERT INTO microgrid_nodes
                    (id, microgrid_id, node_type, circuit_id, name, position)
                SELECT gen_random_uuid(), m.id, 'GRID_CONNECTION', c.id, c.name, c.position
                FROM circuits c JOIN microgrids m ON m.depot_id = c.depot_id
                WHERE c.parent_id IS NULL""")
            floor.append(time.perf_counter() - start)
            await conn.close()
    _, idle_rss = run_measured([str(BIN), "--help"], dict(os.environ))
    wall = statistics.median(runs)
    return {
        "depots": depots,
        "circuits": depots * 5,
        "wall_s": wall,
        "depots_per_s": depots / wall,
        "peak_rss_mib": max(rss) / 1024,
        "cli_startup_rss_mib": idle_rss / 1024,
        "sql_floor_s": statistics.median(floor),
        "ratio_to_floor": wall / statistics.median(floor),
    }


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


TOPOLOGY_QUERY = """query ($id: ID!) { microgrid(id: $id) { ... on Microgrid {
  id version gridConnections { id name position circuit { id name } }
  topology { id parentId kind name depth gridConnectionId }
  drift { inSync } } } }"""


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
                    before = await _metrics(server.url)
                    query = sorted(await timed(client, server.url, body, requests))
                    after = await _metrics(server.url)
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
                            "p99_ms": query[int(0.99 * (len(query) - 1))] * 1000,
                            "ms_per_1000_circuits": q_ms / circuits * 1000,
                            "statements_per_request": statements,
                            "baseline_median_ms": b_ms,
                        }
                    )
    return rows


INGEST = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""


def _status_body(microgrid_id: str, n: int) -> dict[str, object]:
    return {
        "microgridId": microgrid_id,
        "capability": "DER" if n % 2 else "PEAK_SHAVING",
        "value": bool(n % 3),
        "observedAt": datetime.now(UTC).isoformat(),
        "providerEventRef": f"bench-{uuid.uuid4()}",
    }


def _redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _provisioned_depots(
    db: Database, count: int = 1
) -> tuple[list[tuple[str, str]], str, str]:
    """([(depot id, microgrid id)], integration token, operator token) of new depots."""
    await insert_depots(db.dsn, count, 2)
    _, integration, operator = await _cli_together(
        db.url,
        ["backfill"],
        ["tokens", "create", "--role", "integration"],
        ["tokens", "create", "--role", "operator"],
    )
    integration, operator = integration.split()[-1], operator.split()[-1]
    conn = await asyncpg.connect(db.dsn)
    rows = await conn.fetch("SELECT id, depot_id FROM microgrids ORDER BY depot_id")
    await conn.close()
    return [(str(r["depot_id"]), str(r["id"])) for r in rows], integration, operator


async def _cli_together(database_url: str, *commands: list[str]) -> list[str]:
    """The outputs of CLI commands run side by side (each start-up costs ~2 s)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    processes = [
        await asyncio.create_subprocess_exec(
            str(BIN), *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for command in commands
    ]
    outputs = []
    for command, process in zip(commands, processes, strict=True):
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"microgrid {' '.join(command)} failed: {err.decode()}")
        outputs.append(out.decode())
    return outputs


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench_ingest(
    total: int, concurrency: int, microgrids: int, rounds: int = 3
) -> dict[str, object]:
    """recordCapabilityStatus over HTTP (PostgreSQL + Redis) against a minimal
    Starlette endpoint sending the same SQL and publish, same load generator.
    Both servers run side by side and take turns (``rounds`` each), so noise
    on this shared machine hits both; medians are reported, with each
    server's CPU time per request. Posts go round-robin to ``microgrids``
    microgrids (one microgrid measures the per-stream lock, many throughput)."""
    channel = f"bench:{uuid.uuid4().hex}"
    async with Database() as db:
        depots, token, _ = await _provisioned_depots(db, microgrids)
        targets = [m for _d, m in depots]
        headers = {"Authorization": f"Bearer {token}"}

        def graphql_body(n: int) -> dict[str, object]:
            target = targets[n % len(targets)]
            return {"query": INGEST, "variables": {"input": _status_body(target, n)}}

        def raw_body(n: int) -> dict[str, object]:
            return _status_body(targets[n % len(targets)], n)

        env = {"REDIS_URL": _redis_url(), "REDIS_CHANNEL": channel, "ACCESS_LOG": "false"}
        port = free_port()
        raw = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "bench.raw_ingest:app", "--port", str(port)),
                *("--log-level", "warning", "--no-access-log"),
            ],
            cwd=ROOT,
            env={**os.environ, "RAW_DSN": db.dsn, **env},
            stderr=subprocess.DEVNULL,
        )
        try:
            with serve(db.url, **env) as server:
                raw_url = f"http://127.0.0.1:{port}/ingest"
                await _wait_for(raw_url)
                sides = {
                    "graphql": (server.url, graphql_body, server.process.pid),
                    "raw": (raw_url, raw_body, raw.pid),
                }
                for url, body, _pid in sides.values():
                    await _load_with_headers(url, body, 100, 4, headers)  # warm up
                rates: dict[str, list[float]] = {"graphql": [], "raw": []}
                latencies: dict[str, list[float]] = {"graphql": [], "raw": []}
                cpu: dict[str, list[float]] = {"graphql": [], "raw": []}
                for _ in range(rounds):
                    for side, (url, body, pid) in sides.items():
                        before = _cpu_seconds(pid)
                        rate, lat = await _load_with_headers(url, body, total, concurrency, headers)
                        cpu[side].append((_cpu_seconds(pid) - before) / total)
                        rates[side].append(rate)
                        latencies[side] += lat
        finally:
            stop(raw)
    gql, base = statistics.median(rates["graphql"]), statistics.median(rates["raw"])
    return {
        "microgrids": microgrids,
        "requests": total * rounds,
        "concurrency": concurrency,
        "graphql_req_per_s": gql,
        "graphql_median_ms": statistics.median(latencies["graphql"]) * 1e3,
        "graphql_p99_ms": sorted(latencies["graphql"])[int(0.99 * (total * rounds - 1))] * 1e3,
        "graphql_cpu_ms_per_request": statistics.median(cpu["graphql"]) * 1e3,
        "raw_req_per_s": base,
        "raw_median_ms": statistics.median(latencies["raw"]) * 1e3,
        "raw_p99_ms": sorted(latencies["raw"])[int(0.99 * (total * rounds - 1))] * 1e3,
        "raw_cpu_ms_per_request": statistics.median(cpu["raw"]) * 1e3,
        "ratio_graphql_to_raw": gql / base,
    }


async def _load_with_headers(url, make_body, total, concurrency, headers):
    """``total`` POSTs from ``concurrency`` keep-alive connections: (req/s, latencies)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        connection = RawHttpConnection(url, headers)
        try:
            for n in counter:
                start = time.perf_counter()
                status, body = await connection.post_json(make_body(n))
                latencies.append(time.perf_counter() - start)
                assert status == 200 and "errors" not in body, body
        finally:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return total / (time.perf_counter() - start), latencies


async def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with httpx.AsyncClient() as client:
                await client.get(url)
            return
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


PACKET = """mutation ($p: JSON!) { ingestSensorPacket(packet: $p) {
  ... on SensorPacketIngested { outcomes { outcome code } } } }"""
SETUP_SITE = """mutation ($d: ID!, $c: ID!) {
  b: createPowerSource(input: {depotId: $d, kind: BATTERY, name: "BESS"}) { __typename }
  dev: createDevice(input: {depotId: $d, name: "MGC", circuitId: $c}) { ... on Device { id } }
}"""


async def bench_packets(total: int, concurrency: int, sites: int) -> dict[str, object]:
    """ingestSensorPacket with all four actions configured (PostgreSQL + Redis),
    beside recordCapabilityStatus measured in the same run with the same load."""
    async with Database() as db:
        depots, integration, _ = await _provisioned_depots(db, sites)
        admin = cli(db.url, "tokens", "create", "--role", "admin").split()[-1]
        env = {
            "REDIS_URL": _redis_url(),
            "REDIS_CHANNEL": f"bench:{uuid.uuid4().hex}",
            "ACCESS_LOG": "false",
        }
        with serve(db.url, **env) as server:
            admin_http = RawHttpConnection(server.url, {"Authorization": f"Bearer {admin}"})
            conn = await asyncpg.connect(db.dsn)
            devices = []
            for depot_id, microgrid_id in depots:
                feeder = str(
                    await conn.fetchval(
                        "SELECT id FROM circuits WHERE depot_id = $1 ORDER BY position LIMIT 1",
                        uuid.UUID(depot_id),
                    )
                )
                _, made = await admin_http.post_json(
                    {
                        "query": SETUP_SITE,
                        "variables": {"d": depot_id, "c": feeder},
                    }
                )
                device_id = made["data"]["dev"]["id"]
                await admin_http.post_json(
                    {
                        "query": """mutation ($i: CreateControllerBindingInput!) {
                    createControllerBinding(input: $i) { __typename } }""",
                        "variables": {
                            "i": {
                                "microgridId": microgrid_id,
                                "deviceId": device_id,
                                "capabilities": ["DER", "PEAK_SHAVING"],
                            }
                        },
                    }
                )
                for action in (
                    "UPDATE_POWER_SOURCE_STATE",
                    "UPDATE_POWER_SOURCE_LOAD",
                    "UPDATE_CIRCUIT_CAPACITY",
                ):
                    await admin_http.post_json(
                        {
                            "query": """mutation ($i: ConfigureSensorActionInput!) {
                        configureSensorAction(input: $i) { __typename } }""",
                            "variables": {"i": {"deviceId": device_id, "type": action}},
                        }
                    )
                devices.append(device_id)
            await conn.close()
            await admin_http.close()
            base_ms = int(time.time() * 1000) - 10**7

            def packet_body(n: int) -> dict[str, object]:
                measurands = [
                    ("LIMIT_DER_EXPORT", "true" if n % 2 else "false"),
                    ("LIMIT_PEAK_SHAVING", "false"),
                    ("SOC", float(n % 100)),
                    ("BESS_OPERATIONAL_MODE", "automatic"),
                    ("DEVICE_POWER_STATE", "on"),
                    ("TOTAL_POWER_LOAD", 1000.0 + n),
                    ("AVAILABLE_CHARGING_CAPACITY", 2.5e5),
                    ("FAIL_SAFE_CAPACITY", 8e4),
                    ("HEARTBEAT_STATUS", "ok"),
                ]
                return {
                    "query": PACKET,
                    "variables": {
                        "p": {
                            "device_id": devices[n % len(devices)],
                            "timestamp": base_ms + n,
                            "manufacturer": "BBA",
                            "model": None,
                            "serial_number": None,
                            "sensors": [
                                {
                                    "sensor_id": "mgc",
                                    "measurands": [
                                        {"key": k, "value": v, "unit": None} for k, v in measurands
                                    ],
                                }
                            ],
                        }
                    },
                }

            targets = [m for _d, m in depots]

            def status_body(n: int) -> dict[str, object]:
                return {
                    "query": INGEST,
                    "variables": {"input": _status_body(targets[n % len(targets)], n)},
                }

            headers = {"Authorization": f"Bearer {integration}"}
            await _load_with_headers(server.url, packet_body, 20, 4, headers)
            packet_rate, packet_lat = await _load_with_headers(
                server.url, lambda n: packet_body(n + 20), total, concurrency, headers
            )
            status_rate, status_lat = await _load_with_headers(
                server.url, status_body, total, concurrency, headers
            )
    return {
        "requests": total,
        "concurrency": concurrency,
        "sites": sites,
        "packets_per_s": packet_rate,
        "packet_median_ms": statistics.median(packet_lat) * 1e3,
        "status_per_s": status_rate,
        "status_median_ms": statistics.median(status_lat) * 1e3,
        "ratio_packets_to_status": packet_rate / status_rate,
    }


CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status } peakShaving { status } } } }"""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _metrics(url: str) -> dict[str, float]:
    connection = RawHttpConnection(url.replace("/graphql", "/metrics"))
    try:
        status, body = await connection.get_bytes()
    finally:
        await connection.close()
    assert status == 200, body
    return {
        name: float(value)
        for name, value in (
            line.split() for line in body.decode().splitlines() if not line.startswith("#")
        )
    }


@contextlib.contextmanager
def _no_client_gc() -> Iterator[None]:
    """The load generator holds 1,000 sockets and every frame they received: a
    full collection in it stalls the very arrivals it is timing."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


class _Arrivals:
    """Wakes the driver when every subscriber has one more message."""

    def __init__(self) -> None:
        self.left = 0
        self.done = asyncio.Event()

    def expect(self, count: int) -> None:
        self.left = count
        self.done.clear()

    def __call__(self, _subscriber: object) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


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
        [(depot_id, microgrid_id)], token, operator = await _provisioned_depots(db)
        env = {
            "REDIS_URL": _redis_url(),
            "REDIS_CHANNEL": f"bench:{uuid.uuid4().hex}",
            "ACCESS_LOG": "false",
        }
        with contextlib.ExitStack() as stack:
            servers = [stack.enter_context(serve(db.url, **env)) for _ in range(processes)]
            poster = RawHttpConnection(servers[0].url, {"Authorization": f"Bearer {token}"})
            for n in range(5):
                await poster.post_json(
                    {"query": INGEST, "variables": {"input": _status_body(microgrid_id, n)}}
                )
            for count in subscriber_counts:
                await asyncio.sleep(settle / 2)
                rss_before = [_rss_kib(s.process.pid) for s in servers]
                arrivals = _Arrivals()
                arrivals.expect(count)
                rss_half: list[int] = []

                def subscriber(i: int, arrivals: _Arrivals = arrivals) -> Awaitable[RawSubscriber]:
                    return RawSubscriber.open(
                        servers[i % processes].ws_url,
                        operator,
                        CARD_SUB,
                        {"depotId": depot_id},
                        arrivals,
                    )

                half = count // 2 if count >= 100 else count
                subscribers = await _open_in_batches(subscriber, range(half))
                if half < count:
                    await asyncio.sleep(settle)
                    rss_half = [_rss_kib(s.process.pid) for s in servers]
                    subscribers += await _open_in_batches(subscriber, range(half, count))
                await asyncio.wait_for(arrivals.done.wait(), 60)  # every snapshot
                await asyncio.sleep(settle)
                rss_after = [_rss_kib(s.process.pid) for s in servers]
                # The marginal cost: RSS growth over the second half of the
                # subscribers, so per-process warm-up (arenas, caches) cancels out.
                rss_base, added = (
                    (rss_half, count - count // 2) if rss_half else (rss_before, count)
                )
                latencies: list[float] = []
                statements: list[list[float]] = [[] for _ in servers]
                card_reads: list[list[float]] = [[] for _ in servers]
                with _no_client_gc():
                    for n in range(posts):
                        await asyncio.sleep(0.05)
                        before = [await _metrics(s.url) for s in servers]
                        received = len(subscribers[0].messages)
                        arrivals.expect(count)
                        start = time.perf_counter()
                        status, body = await poster.post_json(
                            {"query": INGEST, "variables": {"input": _status_body(microgrid_id, n)}}
                        )
                        assert status == 200 and "errors" not in body, body
                        await asyncio.wait_for(arrivals.done.wait(), 60)
                        latencies += [sub.messages[received][0] - start for sub in subscribers]
                        after = [await _metrics(s.url) for s in servers]
                        for i, (b, a) in enumerate(zip(before, after, strict=True)):
                            statements[i].append(
                                a["microgrid_db_statements_total"]
                                - b["microgrid_db_statements_total"]
                            )
                            card_reads[i].append(
                                a["microgrid_card_reads_total"] - b["microgrid_card_reads_total"]
                            )
                revisions = {_json_revision(sub.messages[-1][1]) for sub in subscribers}
                for sub in subscribers:
                    sub.close()
                latencies.sort()
                results.append(
                    {
                        "processes": processes,
                        "subscribers": count,
                        "posts": posts,
                        "median_ms": statistics.median(latencies) * 1e3,
                        "p99_ms": latencies[int(0.99 * (len(latencies) - 1))] * 1e3,
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


async def bench_fanout_floor(count: int, posts: int, settle: float = 1.0) -> dict[str, object]:
    """The same subscribers and client against bench/raw_fanout.py: a bare
    Starlette WebSocket broadcast of one pre-encoded message (no GraphQL, no
    database, no broker), so what is left is uvicorn and loopback TCP. Two
    floors, taking turns: sending from a task per socket, and from one loop."""
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "bench.raw_fanout:app", "--port", str(port)),
            *("--log-level", "warning", "--no-access-log", "--ws", "websockets-sansio"),
            *("--ws-per-message-deflate", "0"),
        ],
        cwd=ROOT,
    )
    try:
        await _wait_for(f"http://127.0.0.1:{port}/publish")
        arrivals = _Arrivals()
        arrivals.expect(count)
        url = f"ws://127.0.0.1:{port}/graphql"

        def subscriber(_i: int) -> Awaitable[RawSubscriber]:
            return RawSubscriber.open(url, "-", "-", {}, arrivals)

        subscribers = await _open_in_batches(subscriber, range(count // 2))
        await asyncio.sleep(settle)
        rss_half = _rss_kib(server.pid)
        subscribers += await _open_in_batches(subscriber, range(count // 2, count))
        await asyncio.wait_for(arrivals.done.wait(), 60)
        await asyncio.sleep(settle)
        rss_full = _rss_kib(server.pid)
        latencies: dict[str, list[float]] = {"tasks": [], "loop": []}
        publishers = {
            mode: RawHttpConnection(f"http://127.0.0.1:{port}/publish?from={mode}")
            for mode in latencies
        }
        with _no_client_gc():
            for n in range(2 * posts):
                mode = "tasks" if n % 2 == 0 else "loop"
                await asyncio.sleep(0.05)
                received = len(subscribers[0].messages)
                arrivals.expect(count)
                start = time.perf_counter()
                await publishers[mode].post_json({})
                await asyncio.wait_for(arrivals.done.wait(), 60)
                latencies[mode] += [sub.messages[received][0] - start for sub in subscribers]
        for publisher in publishers.values():
            await publisher.close()
        for sub in subscribers:
            sub.close()
    finally:
        stop(server)
    for values in latencies.values():
        values.sort()
    return {
        "subscribers": count,
        "posts": posts,
        **{
            f"{stat}_ms_{mode}": value
            for mode, values in latencies.items()
            for stat, value in (
                ("median", statistics.median(values) * 1e3),
                ("p99", values[int(0.99 * (len(values) - 1))] * 1e3),
            )
        },
        "rss_per_connection_kib": (rss_full - rss_half) / (count - count // 2),
    }


async def _open_in_batches(
    open_one: Callable[[int], Awaitable[RawSubscriber]], indexes: range, batch: int = 20
) -> list[RawSubscriber]:
    """Subscribers opened 20 at a time: one at a time, 1,000 took most of a quick run."""
    opened: list[RawSubscriber] = []
    for start in range(indexes.start, indexes.stop, batch):
        opened += await asyncio.gather(
            *(open_one(i) for i in range(start, min(start + batch, indexes.stop)))
        )
    return opened


def _json_revision(frame: bytes) -> int:
    import json

    return int(json.loads(frame)["payload"]["data"]["microgridCard"]["card"]["revision"])


def _table(rows: list[tuple[str, str, str, str, str]]) -> str:
    lines = [
        "| benchmark | size | result | baseline (same run) | ratio |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--only", choices=["backfill", "topology", "ingest", "fanout", "packets"])
    args = parser.parse_args()
    started = time.perf_counter()
    header = (
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {'quick' if args.quick else 'full'} sizes"
    )
    print(f"# {header}")
    table: list[tuple[str, str, str, str, str]] = []

    def show(name: str, row: dict[str, object]) -> None:
        print(f"[{time.perf_counter() - started:5.0f} s] {name}", row, flush=True)

    if args.only in (None, "backfill"):
        for size in [1_000, 3_000] if args.quick else [10_000, 100_000]:
            b = asyncio.run(bench_backfill(size, 1))
            show("backfill", b)
            table.append(
                (
                    "backfill (CLI, PostgreSQL)",
                    f"{size:,} depots / {size * 5:,} circuits",
                    f"{b['wall_s']:.2f} s, {b['depots_per_s']:,.0f} depots/s, "
                    f"peak RSS {b['peak_rss_mib']:.1f} MiB",
                    f"SQL floor {b['sql_floor_s']:.2f} s; CLI start-up "
                    f"{b['cli_startup_rss_mib']:.1f} MiB",
                    f"{b['ratio_to_floor']:.1f}x floor; "
                    f"+{b['peak_rss_mib'] - b['cli_startup_rss_mib']:.1f} MiB",
                )
            )
    if args.only in (None, "topology"):
        sizes = [1_000, 2_000, 4_000] if args.quick else [1_000, 5_000, 10_000]
        for t in asyncio.run(bench_topology(sizes, 3 if args.quick else 21)):
            show("topology", t)
            table.append(
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
    if args.only in (None, "ingest"):
        for microgrids in (1, 16):
            i = asyncio.run(
                bench_ingest(150 if args.quick else 2000, 16, microgrids, 2 if args.quick else 3)
            )
            show("ingest", i)
            table.append(
                (
                    "recordCapabilityStatus (HTTP, PostgreSQL + Redis)",
                    f"{microgrids} microgrid(s), 16 connections, {i['requests']:,} requests",
                    f"{i['graphql_req_per_s']:.0f} req/s, median {i['graphql_median_ms']:.0f} ms, "
                    f"p99 {i['graphql_p99_ms']:.0f} ms, "
                    f"{i['graphql_cpu_ms_per_request']:.1f} ms CPU/request",
                    f"raw Starlette + asyncpg {i['raw_req_per_s']:.0f} req/s, "
                    f"{i['raw_cpu_ms_per_request']:.1f} ms CPU/request",
                    f"{i['ratio_graphql_to_raw']:.2f}",
                )
            )
    if args.only in (None, "fanout"):
        # Quick: 500 subscribers (opening each costs the server a token check
        # and a card read: 1,000 of them took half of a quick run).
        posts, most, settle = (3, 500, 0.4) if args.quick else (20, 1000, 1.0)
        rows = asyncio.run(bench_fanout([1, 100, most], posts, settle=settle))
        rows += asyncio.run(bench_fanout([most], posts, processes=2, settle=settle))
        floor = asyncio.run(bench_fanout_floor(most, posts, settle=settle))
        show("fanout floor", floor)
        for f in rows:
            show("fanout", f)
            is_floor_size = f["subscribers"] == most
            table.append(
                (
                    "card fan-out, ingest to screen",
                    f"{f['subscribers']:,} subscribers on {f['processes']} process(es)",
                    f"median {f['median_ms']:.0f} ms, p99 {f['p99_ms']:.0f} ms; SQL per change "
                    f"by process {f['statements_per_change_by_process']}, card reads "
                    f"{f['card_reads_per_change_by_process']}"
                    + (
                        f"; {f['rss_per_subscription_kib']:.0f} KiB RSS per subscription"
                        if f["subscribers"] >= 100
                        else ""
                    ),
                    (
                        "bare Starlette broadcast, a task per socket: median "
                        f"{floor['median_ms_tasks']:.0f} ms, p99 {floor['p99_ms_tasks']:.0f} ms; "
                        f"from one loop: median {floor['median_ms_loop']:.0f} ms, "
                        f"p99 {floor['p99_ms_loop']:.0f} ms; "
                        f"{floor['rss_per_connection_kib']:.0f} KiB per connection"
                    )
                    if is_floor_size
                    else "—",
                    (
                        f"p99 {f['p99_ms'] / floor['p99_ms_tasks']:.1f}x task floor, "  # type: ignore[operator]
                        f"{f['p99_ms'] / floor['p99_ms_loop']:.1f}x loop floor"  # type: ignore[operator]
                    )
                    if is_floor_size
                    else "—",
                )
            )
    if args.only in (None, "packets"):
        p = asyncio.run(bench_packets(100 if args.quick else 1000, 16, 16))
        show("packets", p)
        table.append(
            (
                "ingestSensorPacket, all four actions",
                f"16 sites, 16 connections, {p['requests']:,} packets",
                f"{p['packets_per_s']:.0f} packets/s, median {p['packet_median_ms']:.0f} ms",
                f"recordCapabilityStatus {p['status_per_s']:.0f} req/s",
                f"{p['ratio_packets_to_status']:.2f}",
            )
        )
    print()
    print(f"{header} · {time.perf_counter() - started:.0f} s")
    print()
    print(_table(table))
    print(f"\n(max RSS of this driver: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB)")


if __name__ == "__main__":
    main()
