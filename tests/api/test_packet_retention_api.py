"""``sensorPackets`` says how far back it can go: ``retainedSince`` is now
minus PACKET_RETENTION_DAYS, for a known device and an unknown one alike."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.settings import Settings
from tests.api.test_sensor_api import _site

RETAINED = """query ($deviceId: ID!) {
  sensorPackets(deviceId: $deviceId) { retainedSince edges { cursor } } }"""
DAYS = 7


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, packet_retention_days=DAYS)


async def test_sensor_packets_say_how_far_back_they_go(admin, clock):
    _depot, device_id, _bess, _feeder = await _site(admin)
    unknown = "00000000-0000-4000-8000-000000000000"
    for device in (device_id, unknown):
        earliest = clock.current - timedelta(days=DAYS)
        found = (await admin.execute(RETAINED, {"deviceId": device}))["sensorPackets"]
        latest = clock.current - timedelta(days=DAYS)
        since = datetime.fromisoformat(found["retainedSince"])
        assert earliest <= since <= latest
        assert found["edges"] == []
