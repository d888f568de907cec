"""Probe 15: what a hostile client or a broken gateway did to loadChart on a
real server, kept as regressions. Each test states the outcome a user should
see; both failed on main at f383afb (the probe's report, issue 15's note)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.hostile.invariants import Site, TracebackLog, check, post
from tests.support.clock import FakeClock

INGEST = """mutation ($packet: JSON!) { ingestSensorPacket(packet: $packet) { __typename
  ... on SensorPacketIngested { outcomes { action outcome code } } } }"""
CHART = """query ($d: ID!, $f: DateTime!, $t: DateTime!, $m: Int!) {
  loadChart(depotId: $d, from: $f, to: $t, maxPoints: $m) { __typename ... on LoadChart {
    bucketSeconds series { kind subjectId points { at min avg max last } } } } }"""
CIRCUIT = """mutation ($input: CreateCircuitInput!) {
  createCircuit(input: $input) { __typename } }"""


def _load_packet(site: Site, ms: int, watts: float) -> dict[str, Any]:
    return {
        "device_id": site.device_id,
        "timestamp": ms,
        "manufacturer": "BBA",
        "model": "MGC-1",
        "serial_number": "S-1",
        "sensors": [
            {
                "sensor_id": "site-1",
                "measurands": [{"key": "TOTAL_POWER_LOAD", "value": watts, "unit": "W"}],
            }
        ],
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


async def test_a_re_sent_packet_is_not_charted_twice(
    site: Site, http: httpx.AsyncClient, clock: FakeClock, log: TracebackLog
) -> None:
    """A gateway that retries a packet (same device, timestamp and content) must
    not skew the chart: the `resend` preset promises "nothing is recorded
    twice". On main the retry is APPLIED again and its reading counted twice:
    readings 10 W (sent twice) and 20 W chart an average of 13.33 W, not 15 W."""
    t0 = int(clock.current.timestamp() * 1000) - 60_000
    t0 -= t0 % 1000
    for ms, watts in ((t0, 10.0), (t0, 10.0), (t0 + 500, 20.0)):
        body = check(
            await post(http, site.token, INGEST, {"packet": _load_packet(site, ms, watts)}),
            log,
            "ingest",
        )
        assert body["data"]["ingestSensorPacket"]["__typename"] == "SensorPacketIngested", body
    variables = {"d": site.depot_id, "f": _iso(t0), "t": _iso(t0 + 1000), "m": 10}
    body = check(await post(http, site.token, CHART, variables), log, "loadChart")
    chart = body["data"]["loadChart"]
    (load,) = [
        s
        for s in chart["series"]
        if s["kind"] == "POWER_SOURCE_LOAD_W" and s["subjectId"] == site.battery_id
    ]
    assert load["points"] == [
        {"at": _iso(t0), "min": 10.0, "avg": 15.0, "max": 20.0, "last": 20.0}
    ], "the re-sent packet was counted as a second reading"


async def test_a_chart_the_cost_limit_lets_through_is_not_built_only_to_be_refused(
    site: Site, http: httpx.AsyncClient, clock: FakeClock, log: TracebackLog
) -> None:
    """DESIGN §5: no request may stall the event loop. The cost counts a chart
    as maxPoints / 100 whatever the depot's series count, so one 5,000-point
    chart of a depot with 13 circuits (41 series, 2,880 points each: under the
    120,000-point cap) and 29 aliases per point passed the cost check (35
    fields x 50 = 1,750 < 2,000), was resolved in full (~4 million fields;
    1.2-1.9 s of a blocked loop on a real server) and only then refused by
    the byte cap. Now the chart budget counts each point's fields before a
    series is built, and refuses the read once they pass 720,000."""
    for i in range(11):
        created = await post(
            http,
            site.token,
            CIRCUIT,
            {"input": {"depotId": site.depot_id, "name": f"Extra {i}", "parentId": site.feeder_id}},
        )
        assert check(created, log, "createCircuit")["data"]["createCircuit"]["__typename"] == (
            "CircuitSuccess"
        )
    end = clock.current.replace(microsecond=0)
    aliases = " ".join(f"x{i}: at" for i in range(29))
    query = (
        "query ($d: ID!, $f: DateTime!, $t: DateTime!) { loadChart(depotId: $d, from: $f,"
        " to: $t, maxPoints: 5000) { ... on LoadChart { series { points {"
        f" at min avg max last __typename {aliases} }} }} }} }} }}"
    )
    variables = {
        "d": site.depot_id,
        "f": (end - timedelta(days=1)).isoformat(),
        "t": end.isoformat(),
    }
    body = check(await post(http, site.token, query, variables), log, "loadChart")
    errors = [(e["extensions"]["code"], e["message"]) for e in body.get("errors") or []]
    assert body.get("data") is None
    assert [code for code, _ in errors] == ["RESPONSE_TOO_LARGE"], errors
    assert "720,000 point fields" in errors[0][1], "the chart budget, not the byte cap after it"
