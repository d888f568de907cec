"""Probe 16: what a hostile client, a broken gateway and a confused operator
did to the fleet-scale features (ingestSensorPackets, retention) on a real
server, kept as regressions. Each test states the outcome a user should see;
all three failed on int16 at 85f7cad (the probe's report)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.asgi import create_app
from app.container import build_container
from app.settings import Settings
from domain.access import Role
from tests.api.test_sensor_api import _packet, _site
from tests.support.clock import FakeClock
from tests.support.graphql import GraphQLClient

INGEST_ONE = """mutation ($packet: JSON!) { ingestSensorPacket(packet: $packet) { __typename } }"""
COUNT = """query ($deviceId: ID!) {
  sensorPackets(deviceId: $deviceId, first: 1) { retainedSince edges { cursor } } }"""
INGEST_MANY = """mutation ($packets: [JSON!]!) { ingestSensorPackets(packets: $packets) {
  __typename ... on SensorPacketsIngested { accepted refused results { __typename } }
  ... on ValidationFailed { fieldErrors { field code } } } }"""


def _nested(levels: int) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    for _ in range(levels):
        inner = {"a": inner}
    return inner


async def test_a_packet_single_ingest_accepts_does_not_sink_its_batch(admin, integration, clock):
    """README: each packet of a batch is taken "exactly as ingestSensorPacket
    would", and a refused packet never blocks its siblings. The request-level
    JSON depth cap counts the list's own level, so a packet nested to the
    depth a single ingest accepts turns the WHOLE batch into 400 JSON_TOO_DEEP
    and its well-formed sibling is lost."""
    _depot, device_id, _bess, _feeder = await _site(admin)
    ts = int(clock.current.timestamp() * 1000)
    depth = 0
    for levels in range(1, 40):  # the deepest extra key a single ingest still takes
        probe = {**_packet(device_id, ts - levels, ("TOTAL_POWER_LOAD", 1)), "x": _nested(levels)}
        single = await integration.raw(INGEST_ONE, {"packet": probe})
        if (
            single.status_code != 200
            or single.json()["data"]["ingestSensorPacket"]["__typename"] != "SensorPacketIngested"
        ):
            break
        depth = levels
    assert depth > 0
    deep = {**_packet(device_id, ts - 100, ("TOTAL_POWER_LOAD", 1)), "x": _nested(depth)}
    sibling = _packet(device_id, ts - 99, ("TOTAL_POWER_LOAD", 2))

    response = await integration.raw(INGEST_MANY, {"packets": [deep, sibling]})

    assert response.status_code == 200, response.json()
    answer = response.json()["data"]["ingestSensorPackets"]
    assert answer["accepted"] == 2, answer


async def test_aliases_do_not_multiply_the_100_packet_cap(admin, integration, clock):
    """README: ingestSensorPackets takes "up to 100 packets"; more is
    TOO_MANY_PACKETS "before anything else is looked at". Thirty aliases of the
    field, all naming one 100-packet variable, make one ~58 KB request ingest
    and store 3,000 packets (measured on a real server: 3,000 rows, 1.7 s).
    Expected: at most 100 packets per request, across the fields of one
    operation."""
    _depot, device_id, _bess, _feeder = await _site(admin)
    ts = int(clock.current.timestamp() * 1000)
    packets = [_packet(device_id, ts - i * 1000, ("TOTAL_POWER_LOAD", i)) for i in range(100)]
    fields = " ".join(
        f"a{i}: ingestSensorPackets(packets: $p) "
        "{ __typename ... on SensorPacketsIngested { accepted } }"
        for i in range(3)
    )

    answer = await integration.raw(f"mutation ($p: [JSON!]!) {{ {fields} }}", {"p": packets})

    data = answer.json().get("data") or {}
    stored = sum((field or {}).get("accepted", 0) for field in data.values())
    assert stored <= 100, f"one request stored {stored} packets"


@pytest.fixture
async def far_retention(database_url: str, clock: FakeClock) -> AsyncIterator[GraphQLClient | None]:
    """An admin client of a server whose operator set a retention of a million
    days (2,700 years); None when the settings refuse it (a clean start-up
    refusal is a correct answer)."""
    try:
        settings = Settings(
            database_url=database_url,
            packet_retention_days=1_000_000,
            reading_retention_days=1_000_000,
        )
    except ValidationError:
        yield None
        return
    container = build_container(settings, clock=clock)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        issued = await container.tokens.issue(Role.ADMIN, (), clock.now())
        yield GraphQLClient(http, issued.token)
    await container.close()


async def test_a_huge_retention_setting_never_breaks_sensor_packets(far_retention):
    """PACKET_RETENTION_DAYS=1000000 is accepted at start-up (only > 0 is
    checked); afterwards every sensorPackets read is INTERNAL_SERVER_ERROR
    (OverflowError: date value out of range, traceback in the log), every
    retention pass fails and `microgrid retention run` dies with a traceback.
    Expected: the setting is refused at start-up with the variable named, or
    the window is clamped and reads work."""
    if far_retention is None:
        return
    _depot, device_id, _bess, _feeder = await _site(far_retention)

    answer = await far_retention.raw(COUNT, {"deviceId": device_id})

    body = answer.json()
    assert "errors" not in body, body["errors"][0]["extensions"]["code"]
    assert body["data"]["sensorPackets"]["edges"] == []
