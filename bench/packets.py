"""ingestSensorPacket with all four sensor actions configured: beside
recordCapabilityStatus on the same server with the same load; beside
bench/raw_packets.py (the same statements without GraphQL, domain layer or
SQLAlchemy), both servers taking turns; and ingestSensorPackets at 1, 10, 50
and 100 packets per request."""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import subprocess
import time
import uuid

import asyncpg

from bench.depots import provisioned_depots
from bench.load import post_load, take_turns, wait_for
from bench.measure import cpu_seconds
from bench.rawhttp import RawHttpConnection
from bench.report import Row, Show
from bench.serving import cli, free_port, serve, start_baseline, stop
from bench.statuses import ingest_request
from bench.stores import Database, broker_env

PACKET = """mutation ($p: JSON!) { ingestSensorPacket(packet: $p) {
  ... on SensorPacketIngested { outcomes { outcome code } } } }"""
PACKETS = """mutation ($p: [JSON!]!) { ingestSensorPackets(packets: $p) {
  ... on SensorPacketsIngested { accepted refused } } }"""
SETUP_SITE = """mutation ($d: ID!, $c: ID!) {
  b: createPowerSource(input: {depotId: $d, kind: BATTERY, name: "BESS"}) { __typename }
  dev: createDevice(input: {depotId: $d, name: "MGC", circuitId: $c}) { ... on Device { id } }
}"""
BIND = """mutation ($i: CreateControllerBindingInput!) {
  createControllerBinding(input: $i) { __typename } }"""
CONFIGURE = """mutation ($i: ConfigureSensorActionInput!) {
  configureSensorAction(input: $i) { __typename } }"""
OTHER_ACTIONS = ("UPDATE_POWER_SOURCE_STATE", "UPDATE_POWER_SOURCE_LOAD", "UPDATE_CIRCUIT_CAPACITY")
"""Configured beside the controller binding (which is the fourth action)."""


async def equip_sites(url: str, admin: str, dsn: str, depots: list[tuple[str, str]]) -> list[str]:
    """A battery and a controller device per depot, the device bound to both
    capabilities and given every other action; the device ids."""
    admin_http = RawHttpConnection(url, {"Authorization": f"Bearer {admin}"})
    conn = await asyncpg.connect(dsn)
    devices = []
    for depot_id, microgrid_id in depots:
        feeder = str(
            await conn.fetchval(
                "SELECT id FROM circuits WHERE depot_id = $1 ORDER BY position LIMIT 1",
                uuid.UUID(depot_id),
            )
        )
        _, made = await admin_http.post_json(
            {"query": SETUP_SITE, "variables": {"d": depot_id, "c": feeder}}
        )
        device_id = made["data"]["dev"]["id"]
        binding = {
            "microgridId": microgrid_id,
            "deviceId": device_id,
            "capabilities": ["DER", "PEAK_SHAVING"],
        }
        await admin_http.post_json({"query": BIND, "variables": {"i": binding}})
        for action in OTHER_ACTIONS:
            await admin_http.post_json(
                {"query": CONFIGURE, "variables": {"i": {"deviceId": device_id, "type": action}}}
            )
        devices.append(device_id)
    await conn.close()
    await admin_http.close()
    return devices


def packet_request(device_id: str, timestamp_ms: int, n: int) -> dict[str, object]:
    """ingestSensorPacket with a packet carrying all nine controller keys."""
    return {"query": PACKET, "variables": {"p": packet(device_id, timestamp_ms, n)}}


def packet(device_id: str, timestamp_ms: int, n: int) -> dict[str, object]:
    """A packet carrying all nine controller keys."""
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
        "device_id": device_id,
        "timestamp": timestamp_ms,
        "manufacturer": "BBA",
        "model": None,
        "serial_number": None,
        "sensors": [
            {
                "sensor_id": "mgc",
                "measurands": [{"key": k, "value": v, "unit": None} for k, v in measurands],
            }
        ],
    }


async def bench_packets(total: int, concurrency: int, sites: int) -> dict[str, object]:
    """ingestSensorPacket with all four actions configured (PostgreSQL + Redis),
    beside recordCapabilityStatus measured in the same run with the same load."""
    async with Database() as db:
        depots, integration, _ = await provisioned_depots(db, sites)
        admin = cli(db.url, "tokens", "create", "--role", "admin").split()[-1]
        with serve(db.url, **broker_env()) as server:
            devices = await equip_sites(server.url, admin, db.dsn, depots)
            base_ms = int(time.time() * 1000) - 10**7

            def packet_body(n: int) -> dict[str, object]:
                return packet_request(devices[n % len(devices)], base_ms + n, n)

            targets = [m for _d, m in depots]

            def status_body(n: int) -> dict[str, object]:
                return ingest_request(targets[n % len(targets)], n)

            headers = {"Authorization": f"Bearer {integration}"}
            await post_load(server.url, packet_body, 20, 4, headers)
            packet_rate, packet_lat = await post_load(
                server.url, lambda n: packet_body(n + 20), total, concurrency, headers
            )
            status_rate, status_lat = await post_load(
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


async def bench_packets_vs_raw(
    total: int, concurrency: int, sites: int, rounds: int = 3
) -> dict[str, object]:
    """ingestSensorPacket against bench/raw_packets.py on the same database and
    devices, the two servers taking turns (``rounds`` each); every packet newer
    than the last, whichever server takes it, so both do every write."""
    env = broker_env()
    async with Database() as db:
        depots, integration, _ = await provisioned_depots(db, sites)
        admin = cli(db.url, "tokens", "create", "--role", "admin").split()[-1]
        port = free_port()
        raw = start_baseline(
            "bench.raw_packets:app",
            port,
            env={**os.environ, "RAW_DSN": db.dsn, **env},
            stderr=subprocess.DEVNULL,
        )
        try:
            with serve(db.url, **env) as server:
                devices = await equip_sites(server.url, admin, db.dsn, depots)
                raw_url = f"http://127.0.0.1:{port}/ingest"
                await wait_for(raw_url)
                base_ms = int(time.time() * 1000) - 10**7
                clock = itertools.count()

                def graphql_body(n: int) -> dict[str, object]:
                    return packet_request(devices[n % len(devices)], base_ms + next(clock), n)

                def raw_body(n: int) -> dict[str, object]:
                    return packet(devices[n % len(devices)], base_ms + next(clock), n)

                sides = {
                    "graphql": (server.url, graphql_body, server.process.pid),
                    "raw": (raw_url, raw_body, raw.pid),
                }
                headers = {"Authorization": f"Bearer {integration}"}
                for url, body, _pid in sides.values():
                    await post_load(url, body, 64, concurrency, headers)  # every connection
                turns = await take_turns(sides, rounds, total, concurrency, headers)
        finally:
            stop(raw)
    gql, base = statistics.median(turns["graphql"].rates), statistics.median(turns["raw"].rates)
    return {
        "sites": sites,
        "requests": total * rounds,
        "concurrency": concurrency,
        "graphql_packets_per_s": gql,
        "graphql_median_ms": statistics.median(turns["graphql"].latencies) * 1e3,
        "graphql_cpu_ms_per_packet": statistics.median(turns["graphql"].cpu) * 1e3,
        "raw_packets_per_s": base,
        "raw_median_ms": statistics.median(turns["raw"].latencies) * 1e3,
        "raw_cpu_ms_per_packet": statistics.median(turns["raw"].cpu) * 1e3,
        "ratio_graphql_to_raw": gql / base,
    }


async def bench_batches(
    packets_per_size: int, sizes: tuple[int, ...], concurrency: int, sites: int
) -> dict[str, object]:
    """ingestSensorPackets with ``size`` packets per request (each request one
    site's buffer of consecutive packets), ``packets_per_size`` packets in all
    for each size, on one server process: packets/s and request latency."""
    async with Database() as db:
        depots, integration, _ = await provisioned_depots(db, sites)
        admin = cli(db.url, "tokens", "create", "--role", "admin").split()[-1]
        with serve(db.url, **broker_env()) as server:
            devices = await equip_sites(server.url, admin, db.dsn, depots)
            base_ms = int(time.time() * 1000) - 10**7
            clock = itertools.count()
            headers = {"Authorization": f"Bearer {integration}"}
            curve: dict[str, object] = {}
            for size in sizes:

                def body(n: int, size: int = size) -> dict[str, object]:
                    device = devices[n % len(devices)]
                    buffer = [packet(device, base_ms + next(clock), n) for _ in range(size)]
                    return {"query": PACKETS, "variables": {"p": buffer}}

                await post_load(server.url, body, 2 * concurrency, concurrency, headers)  # warm up
                requests = max(concurrency, packets_per_size // size)
                start_cpu = cpu_seconds(server.process.pid)
                rate, lat = await post_load(server.url, body, requests, concurrency, headers)
                curve[str(size)] = {
                    "packets_per_s": rate * size,
                    "requests": requests,
                    "median_ms": statistics.median(lat) * 1e3,
                    "cpu_ms_per_packet": (cpu_seconds(server.process.pid) - start_cpu)
                    / (requests * size)
                    * 1e3,
                }
    return {"sites": sites, "concurrency": concurrency, "curve": curve}


def run(quick: bool, show: Show) -> list[Row]:
    p = asyncio.run(bench_packets(100 if quick else 1000, 16, 16))
    show("packets", p)
    r = asyncio.run(bench_packets_vs_raw(150 if quick else 1000, 16, 16, 2 if quick else 3))
    show("packets_vs_raw", r)
    b = asyncio.run(bench_batches(400 if quick else 3000, (1, 10, 50, 100), 16, 16))
    show("packet_batches", b)
    curve: dict[str, dict[str, float]] = b["curve"]  # type: ignore[assignment]
    single = curve["1"]["packets_per_s"]
    batch_rows: list[Row] = [
        (
            "ingestSensorPackets, all four actions",
            f"{size} packets/request, 16 sites, 16 connections, {c['requests']:,} requests",
            f"{c['packets_per_s']:.0f} packets/s, median {c['median_ms']:.0f} ms/request, "
            f"{c['cpu_ms_per_packet']:.1f} ms CPU/packet",
            f"1 packet/request {single:.0f} packets/s",
            f"{c['packets_per_s'] / single:.1f}x",
        )
        for size, c in curve.items()
    ]
    return [
        (
            "ingestSensorPacket vs raw, all four actions",
            f"16 sites, 16 connections, {r['requests']:,} packets",
            f"{r['graphql_packets_per_s']:.0f} packets/s, median {r['graphql_median_ms']:.0f} ms, "
            f"{r['graphql_cpu_ms_per_packet']:.1f} ms CPU/packet",
            f"raw Starlette + asyncpg {r['raw_packets_per_s']:.0f} packets/s, "
            f"{r['raw_cpu_ms_per_packet']:.1f} ms CPU/packet",
            f"{r['ratio_graphql_to_raw']:.2f}",
        ),
        *batch_rows,
        (
            "ingestSensorPacket, all four actions",
            f"16 sites, 16 connections, {p['requests']:,} packets",
            f"{p['packets_per_s']:.0f} packets/s, median {p['packet_median_ms']:.0f} ms",
            f"recordCapabilityStatus {p['status_per_s']:.0f} req/s",
            f"{p['ratio_packets_to_status']:.2f}",
        ),
    ]
