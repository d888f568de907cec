"""ingestSensorPacket with all four sensor actions configured, beside
recordCapabilityStatus on the same server with the same load."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import asyncpg

from bench.depots import provisioned_depots
from bench.load import post_load
from bench.rawhttp import RawHttpConnection
from bench.report import Row, Show
from bench.serving import cli, serve
from bench.statuses import ingest_request
from bench.stores import Database, broker_env

PACKET = """mutation ($p: JSON!) { ingestSensorPacket(packet: $p) {
  ... on SensorPacketIngested { outcomes { outcome code } } } }"""
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
        "query": PACKET,
        "variables": {
            "p": {
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
        },
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


def run(quick: bool, show: Show) -> list[Row]:
    p = asyncio.run(bench_packets(100 if quick else 1000, 16, 16))
    show("packets", p)
    return [
        (
            "ingestSensorPacket, all four actions",
            f"16 sites, 16 connections, {p['requests']:,} packets",
            f"{p['packets_per_s']:.0f} packets/s, median {p['packet_median_ms']:.0f} ms",
            f"recordCapabilityStatus {p['status_per_s']:.0f} req/s",
            f"{p['ratio_packets_to_status']:.2f}",
        )
    ]
