"""Scenario runs against the real app (uvicorn in the test loop, wall clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.container import build_container
from app.settings import Settings
from domain.access import Role
from simulator import runner
from simulator.client import ServiceClient
from simulator.scenario import load, presets
from tests.support import services
from tests.support.live_server import live_server


async def _run(
    template: str,
    tmp_path: Path,
    preset: str,
    start: datetime | None = None,
    evidence: Path | None = None,
    every: float | None = None,
    batch: int = 1,
):
    """One run of ``preset`` against a fresh database; returns (result, stored packets)."""
    scenario = load(preset, every)
    container = build_container(Settings(database_url=services.copy_sqlite(template, tmp_path)))
    try:
        async with live_server(container) as base:
            token = (await container.tokens.issue(Role.ADMIN, (), datetime.now(UTC))).token
            client = ServiceClient(base, token)
            try:
                target = await runner.provision(client, scenario)
                anchor = start or runner.default_start(scenario, datetime.now(UTC), False)
                result = await runner.run(
                    client, scenario, target, anchor, evidence=evidence, batch=batch
                )
                packets = await _stored_packets(base, token, target.device_id)
            finally:
                await client.close()
    finally:
        await container.close()
    return result, packets


async def _stored_packets(base: str, token: str, device_id: str) -> list[dict]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
        body = (
            await http.post(
                base + "/graphql",
                json={
                    "query": """query ($d: ID!) {
            sensorPackets(deviceId: $d, first: 100) { edges { node { packet } } } }""",
                    "variables": {"d": device_id},
                },
            )
        ).json()
    return [e["node"]["packet"] for e in body["data"]["sensorPackets"]["edges"]][::-1]


def capability(card: dict, name: str) -> dict:
    """The card's status of capability ``name`` (the card lists one per type)."""
    return next(s for s in card["capabilities"] if s["capability"] == name)


def _normalised(result) -> tuple[list[bytes], list[list[tuple[str, str, str]]]]:
    device = result.target.device_id
    packets = [
        json.dumps(s.planned.packet, separators=(",", ":")).replace(device, "DEVICE").encode()
        for s in result.steps
    ]
    outcomes = [[(o["action"], o["outcome"], o["code"]) for o in s.outcomes] for s in result.steps]
    return packets, outcomes


SHORT_PRESETS = sorted(name for name in presets() if load(name).period_seconds is None)


@pytest.mark.parametrize("preset", SHORT_PRESETS)
async def test_each_preset_is_deterministic_and_meets_its_expectations(
    preset, sqlite_template, tmp_path
):
    scenario = load(preset)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=scenario.duration_seconds)
    first, _ = await _run(sqlite_template, tmp_path, preset, start)
    second, _ = await _run(sqlite_template, tmp_path, preset, start)

    assert first.target.device_id != second.target.device_id, "fresh databases"
    assert _normalised(first) == _normalised(second)
    failed = [
        (s.planned.step.name, c.field, c.expected, c.actual)
        for s in first.steps
        for c in s.checks
        if not c.ok
    ]
    assert failed == []


@pytest.mark.parametrize("preset", SHORT_PRESETS)
async def test_batched_runs_send_the_same_packets_with_the_same_outcomes(
    preset, sqlite_template, tmp_path
):
    """``sim run --batch 5``: up to five steps per ingestSensorPackets request
    (over HTTP to a real server), the same packets kept, the same outcomes, and
    every expectation met (a step with expectations ends its request)."""
    scenario = load(preset)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=scenario.duration_seconds)
    single, kept_single = await _run(sqlite_template, tmp_path, preset, start)
    batched, kept_batched = await _run(sqlite_template, tmp_path, preset, start, batch=5)

    assert _normalised(batched) == _normalised(single)
    device_free = [json.dumps(p, sort_keys=True) for p in kept_single]
    renamed = [
        json.dumps(p, sort_keys=True).replace(batched.target.device_id, single.target.device_id)
        for p in kept_batched
    ]
    assert sorted(renamed) == sorted(device_free)
    assert [c for s in batched.steps for c in s.checks if not c.ok] == []
    assert sum(1 for s in batched.steps if s.checks) == sum(1 for s in single.steps if s.checks)


async def test_card_der_follows_limit_der_export(sqlite_template, tmp_path):
    result, _ = await _run(sqlite_template, tmp_path, "der-export")
    assert [capability(s.card, "DER")["status"] for s in result.steps] == ["ON", "OFF", "ON"]


async def test_capacity_follows_available_and_falls_back_while_heartbeat_is_not_ok(
    sqlite_template, tmp_path
):
    result, _ = await _run(sqlite_template, tmp_path, "heartbeat-failsafe")
    assert [
        (
            s.planned.state["MCN_MGC_CMS_HEARTBEAT"],
            s.circuit["effectiveCapacityW"],
            s.circuit["capacitySource"],
        )
        for s in result.steps
    ] == [
        ("ok", 250000.0, "CONTROLLER_AVAILABLE"),
        ("connection_lost", 80000.0, "CONTROLLER_FAIL_SAFE"),
        ("timeout", 80000.0, "CONTROLLER_FAIL_SAFE"),
        ("error", 80000.0, "CONTROLLER_FAIL_SAFE"),
        ("ok", 240000.0, "CONTROLLER_AVAILABLE"),
    ]


async def test_dispatch_state_is_visible_in_stored_packets_and_evidence(sqlite_template, tmp_path):
    evidence = tmp_path / "evidence.jsonl"
    result, stored = await _run(sqlite_template, tmp_path, "dispatch-state", evidence=evidence)

    def dispatch(packet: dict) -> str:
        return next(
            m["value"] for m in packet["sensors"][0]["measurands"] if m["key"] == "DISPATCH_STATE"
        )

    assert [dispatch(p) for p in stored] == ["on", "off", "on"]
    lines = [json.loads(line) for line in evidence.read_text().splitlines()]
    assert [dispatch(line["packet"]) for line in lines] == ["on", "off", "on"]
    assert [line["step"] for line in lines] == [1, 2, 3]
    assert {"virtualTime", "packet", "outcomes", "card", "checks"} <= set(lines[0])
    assert all(capability(line["card"], "PEAK_SHAVING")["status"] == "UNKNOWN" for line in lines)
    assert stored == [s.planned.packet for s in result.steps], "the service kept what was sent"


async def test_realtime_waits_for_each_step_on_the_wall_clock(sqlite_template, tmp_path):
    from simulator.scenario import parse

    scenario = parse(
        'name = "rt"\n[initial]\nMCN_MGC_DER_EXP_ON_OFF = true\n'
        "[[steps]]\nat = 0\n[[steps]]\nat = 1\n"
        "set = { MCN_MGC_DER_EXP_ON_OFF = false }\n"
    )
    container = build_container(
        Settings(database_url=services.copy_sqlite(sqlite_template, tmp_path))
    )
    try:
        async with live_server(container) as base:
            token = (await container.tokens.issue(Role.ADMIN, (), datetime.now(UTC))).token
            client = ServiceClient(base, token)
            target = await runner.provision(client, scenario)
            start = runner.default_start(scenario, datetime.now(UTC), realtime=True)
            await runner.run(client, scenario, target, start, realtime=True)
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
                body = (
                    await http.post(
                        base + "/graphql",
                        json={
                            "query": """query ($d: ID!) {
                    sensorPackets(deviceId: $d) { edges { node { observedAt receivedAt } } } }""",
                            "variables": {"d": target.device_id},
                        },
                    )
                ).json()
            await client.close()
    finally:
        await container.close()
    nodes = [e["node"] for e in body["data"]["sensorPackets"]["edges"]]
    assert len(nodes) == 2
    for node in nodes:
        assert datetime.fromisoformat(node["receivedAt"]) >= datetime.fromisoformat(
            node["observedAt"]
        ), "no packet was sent before its virtual time"


async def test_day_in_the_life_meets_its_expectations_at_a_coarser_step(sqlite_template, tmp_path):
    """The whole day at a step every 30 min (the written steps stay), twice."""
    scenario = load("day-in-the-life", 1800)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    evidence = tmp_path / "day.jsonl"
    first, stored = await _run(sqlite_template, tmp_path, "day-in-the-life", start, evidence, 1800)
    second, _ = await _run(sqlite_template, tmp_path, "day-in-the-life", start, None, 1800)

    # 48 half hours, 3:00 silent, and the written steps at 3:25, 12:20 and 12:40
    assert len(first.steps) == len(scenario.steps) == 48 - 1 + 3
    assert _normalised(first) == _normalised(second)
    assert [(s.planned.step.name, c.field) for s in first.steps for c in s.checks if not c.ok] == []
    routed = {o["action"]: o["outcome"] for s in first.steps for o in s.outcomes}
    assert routed["UPDATE_POWER_SOURCE_LOAD"] == "APPLIED", "the site meter's load reaches the BESS"
    assert stored == [s.planned.packet for s in first.steps], "the service kept what was sent"
    lines = [json.loads(line) for line in evidence.read_text().splitlines()]
    for line, step in zip(lines, first.steps, strict=True):
        values = {
            m["key"]: m["value"]
            for sensor in line["packet"]["sensors"]
            for m in sensor["measurands"]
        }
        assert line["sent"] == {
            "observedAt": step.planned.virtual_time.isoformat(),
            "values": values,
        }
    assert {"TOTAL_POWER_LOAD", "SOC", "AVAILABLE_CHARGING_CAPACITY", "FAIL_SAFE_CAPACITY"} <= set(
        lines[0]["sent"]["values"]
    )


async def test_catching_up_sends_only_what_the_device_has_not_reported(sqlite_template, tmp_path):
    scenario = load("day-in-the-life", 3600)
    container = build_container(
        Settings(database_url=services.copy_sqlite(sqlite_template, tmp_path))
    )
    try:
        async with live_server(container) as base:
            token = (await container.tokens.issue(Role.ADMIN, (), datetime.now(UTC))).token
            client = ServiceClient(base, token)
            try:
                target = await runner.provision(client, scenario)
                depot = await runner.find_depot(client, "Simulator: day-in-the-life")
                assert await runner.last_reported(client, target.device_id) is None
                now = datetime.now(UTC).replace(microsecond=0)
                packets = runner.catch_up(scenario, target.device_id, now, None)
                first = await runner.run(client, scenario, target, now, packets=packets)
                last = await runner.last_reported(client, target.device_id)
                again = runner.catch_up(scenario, target.device_id, now, last)
                second = await runner.run(client, scenario, target, now, packets=again)
            finally:
                await client.close()
    finally:
        await container.close()
    assert depot == target.depot_id
    assert first.ok and len(first.steps) >= 24
    assert last == first.steps[-1].planned.virtual_time
    assert second.steps == []
