"""The load chart against the simulator's evidence: day-in-the-life is played
into the real app, and every bucket of every series that loadChart answers
equals the bucket computed from the packets the simulator sent (their
observed time and values) and the outcomes the service answered.

SQLite plays the preset at a packet every 2 minutes (708 packets, as
`make run` does); PostgreSQL, whose bucketing is the other statement under
test, at a packet every 5 minutes, to keep the suite's time in bounds. The
10-point range puts dozens of packets in each bucket either way."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.container import build_container
from app.settings import Settings
from domain.access import Role
from graphql_documents import GRAPHQL_DIR
from simulator import runner
from simulator.client import ServiceClient
from simulator.scenario import load
from tests.support.live_server import live_server

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)

pytestmark = pytest.mark.skipif(
    "loadChart(" not in (GRAPHQL_DIR / "schema.graphql").read_text(),
    reason="the loadChart API (branch i15-chart) is not merged yet",
)
STEP_SECONDS = {"sqlite": 120, "postgresql": 300}

CHART = """query Chart($depotId: ID!, $from: DateTime!, $to: DateTime!, $maxPoints: Int!) {
  loadChart(depotId: $depotId, from: $from, to: $to, maxPoints: $maxPoints) {
    __typename
    ... on LoadChart {
      from to bucketSeconds
      series { kind subjectId unit points { at min avg max last } }
    }
  }
}"""
Key = tuple[str, str]
"""(series kind, subject id)"""
Reading = tuple[datetime, float]


def readings_from_evidence(
    lines: list[dict[str, Any]], safe_capacity_w: float
) -> dict[Key, list[Reading]]:
    """What the chart must hold, from the evidence alone: a power source's load
    and SOC where its action applied them (a null value is a gap); a circuit's
    available, fail-safe (held across reports that omit it) and effective
    capacity where its report applied — the effective capacity at the report's
    own time: the available capacity while the heartbeat is "ok", else the
    fail-safe capacity, else the configured safe capacity (DESIGN §2)."""
    series: dict[Key, list[Reading]] = defaultdict(list)
    fail_safe: dict[str, float | None] = {}
    for line in lines:
        at = datetime.fromisoformat(line["sent"]["observedAt"])
        values = line["sent"]["values"]
        applied = {
            o["action"]: o["targetId"] for o in line["outcomes"] if o["outcome"] == "APPLIED"
        }
        for action, key, kind in (
            ("UPDATE_POWER_SOURCE_LOAD", "TOTAL_POWER_LOAD", "POWER_SOURCE_LOAD_W"),
            ("UPDATE_POWER_SOURCE_STATE", "SOC", "POWER_SOURCE_SOC_PERCENT"),
        ):
            if action in applied and values.get(key) is not None:
                series[(kind, applied[action])].append((at, float(values[key])))
        circuit = applied.get("UPDATE_CIRCUIT_CAPACITY")
        if circuit is None:
            continue
        if "FAIL_SAFE_CAPACITY" in values:
            fail_safe[circuit] = values["FAIL_SAFE_CAPACITY"]
        available, held = values["AVAILABLE_CHARGING_CAPACITY"], fail_safe.get(circuit)
        if values["HEARTBEAT_STATUS"] == "ok" and available is not None:
            effective = available
        else:
            effective = held if held is not None else safe_capacity_w
        for kind, value in (
            ("CIRCUIT_AVAILABLE_CAPACITY_W", available),
            ("CIRCUIT_FAIL_SAFE_CAPACITY_W", held),
            ("CIRCUIT_EFFECTIVE_CAPACITY_W", effective),
        ):
            if value is not None:
                series[(kind, circuit)].append((at, float(value)))
    return series


def grid_index(at: datetime, width: int) -> int:
    """Which bucket of ``width`` seconds since the Unix epoch holds ``at``."""
    return (at - EPOCH) // timedelta(seconds=width)


def buckets(
    readings: list[Reading], start: datetime, end: datetime, width: int
) -> dict[int, tuple[float, float, float, float]]:
    """Bucket i holds the readings of [start, end) in the i-th grid bucket
    from the one holding start."""
    held: dict[int, list[Reading]] = defaultdict(list)
    for at, value in readings:
        if start <= at < end:
            held[grid_index(at, width) - grid_index(start, width)].append((at, value))
    out = {}
    for index, group in held.items():
        values = [v for _at, v in group]
        out[index] = (min(values), sum(values) / len(values), max(values), max(group)[1])
    return out


async def _chart(
    http: httpx.AsyncClient, depot: str, start: datetime, end: datetime, n: int
) -> dict:
    body = (
        await http.post(
            "/graphql",
            json={
                "query": CHART,
                "variables": {
                    "depotId": depot,
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "maxPoints": n,
                },
            },
        )
    ).json()
    assert "errors" not in body, body
    chart = body["data"]["loadChart"]
    assert chart["__typename"] == "LoadChart", chart
    return chart


def _check(chart: dict, expected: dict[Key, list[Reading]], start: datetime, end: datetime) -> int:
    width = chart["bucketSeconds"]
    answered = {(s["kind"], s["subjectId"]): s for s in chart["series"]}
    with_data = {k for k, s in answered.items() if any(p["last"] is not None for p in s["points"])}
    assert with_data == {k for k, r in expected.items() if buckets(r, start, end, width)}
    checked = 0
    for key, series in answered.items():
        want = buckets(expected.get(key, []), start, end, width)
        first = grid_index(start, width)
        assert len(series["points"]) == grid_index(end - US, width) - first + 1
        for index, point in enumerate(series["points"]):
            at = EPOCH + timedelta(seconds=(first + index) * width)
            assert datetime.fromisoformat(point["at"]) == max(at, start)
            got = (point["min"], point["avg"], point["max"], point["last"])
            if index not in want:
                assert got == (None, None, None, None), (key, index)
                continue
            low, avg, high, last = want[index]
            assert (got[0], got[2], got[3]) == (low, high, last), (key, index)
            assert got[1] == pytest.approx(avg, rel=1e-9, abs=1e-9), (key, index)
            checked += 1
    return checked


async def test_every_bucket_of_every_series_equals_the_evidence(
    store: str, settings: Settings, tmp_path: Path
):
    scenario = load("day-in-the-life", STEP_SECONDS[store])
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=scenario.period_seconds or 0)
    evidence = tmp_path / "evidence.jsonl"
    container = build_container(settings)
    try:
        async with live_server(container) as base:
            token = (await container.tokens.issue(Role.ADMIN, (), now)).token
            client = ServiceClient(base, token)
            try:
                target = await runner.provision(client, scenario)
                result = await runner.run(
                    client, scenario, target, start, evidence=evidence, read_back=False
                )
            finally:
                await client.close()
            lines = [json.loads(line) for line in evidence.read_text().splitlines()]
            expected = readings_from_evidence(lines, scenario.provision.safe_capacity_w)
            day_from = start.replace(second=0)
            ranges = [
                (day_from, day_from + timedelta(days=1), 1000),  # the load page's 24 h
                (day_from, day_from + timedelta(days=1), 10),
                (
                    start + timedelta(hours=11, minutes=47, seconds=13),
                    start + timedelta(hours=13, minutes=21, seconds=5),
                    37,
                ),
                (
                    start + timedelta(hours=2, minutes=50),
                    start + timedelta(hours=3, minutes=40),
                    50,
                ),  # the silent gap
            ]
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
                checked = [
                    _check(await _chart(http, target.depot_id, a, b, n), expected, a, b)
                    for a, b, n in ranges
                ]
    finally:
        await container.close()
    assert result.ok
    assert len(lines) == len(scenario.steps)
    assert {kind for kind, _subject in expected} == {
        "POWER_SOURCE_LOAD_W",
        "POWER_SOURCE_SOC_PERCENT",
        "CIRCUIT_AVAILABLE_CAPACITY_W",
        "CIRCUIT_FAIL_SAFE_CAPACITY_W",
        "CIRCUIT_EFFECTIVE_CAPACITY_W",
    }
    assert all(checked), "every range had buckets with readings"
