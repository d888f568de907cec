"""Controller packets stamped now, for the load page's live tests: generic
sensor packets posted through ingestSensorPacket (the integration token), with
the values of a step of a day (load curve, battery cycle, capacity, heartbeat,
peak shaving and DER). The day itself comes from the simulator's preset."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx

STEPS = 360  # 24 h
FAIL_SAFE = range(150, 165)  # one hour with the controller link lost
PEAK_SHAVING_ON = range(60, 200)
DER_LIMIT_ON = range(100, 280)
AVAILABLE_W = 300_000.0
FAIL_SAFE_W = 120_000.0

INGEST = """mutation ($p: JSON!) { ingestSensorPacket(packet: $p) {
  __typename ... on SensorPacketIngested { outcomes { action outcome code } }
  ... on ValidationFailed { fieldErrors { field message } } } }"""


def measurand(key: str, value: object, unit: str | None) -> dict[str, Any]:
    return {"key": key, "value": value, "unit": unit}


def packet(device_id: str, at: datetime, **readings: Any) -> dict[str, Any]:
    measurands = []
    if "load_w" in readings:
        measurands.append(measurand("TOTAL_POWER_LOAD", readings["load_w"], "W"))
    if "soc" in readings:
        measurands.append(measurand("SOC", readings["soc"], "%"))
    if "heartbeat" in readings:
        measurands += [
            measurand("AVAILABLE_CHARGING_CAPACITY", readings["available_w"], "W"),
            measurand("FAIL_SAFE_CAPACITY", readings["fail_safe_w"], "W"),
            measurand("HEARTBEAT_STATUS", readings["heartbeat"], None),
        ]
    for key, name in (("peak_shaving", "LIMIT_PEAK_SHAVING"), ("der", "LIMIT_DER_EXPORT")):
        if key in readings:
            measurands.append(measurand(name, "true" if readings[key] else "false", None))
    return {
        "device_id": device_id,
        "timestamp": int(at.timestamp() * 1000),
        "manufacturer": "BBA",
        "model": "MGC",
        "serial_number": "load-page-test",
        "sensors": [{"sensor_id": "mgc", "measurands": measurands}],
    }


def load_at(step: int) -> float:
    """A base load with two charging peaks (evening and early morning)."""
    peaks = sum(math.exp(-(((step - centre) / 18) ** 2)) for centre in (90, 300))
    return round(40_000 + 160_000 * peaks + 5_000 * math.sin(step / 5), 1)


def soc_at(step: int) -> float:
    return round(55 + 35 * math.sin(step / STEPS * 2 * math.pi), 2)


def readings_at(step: int) -> dict[str, Any]:
    return {
        "load_w": load_at(step),
        "soc": soc_at(step),
        "available_w": AVAILABLE_W,
        "fail_safe_w": FAIL_SAFE_W,
        "heartbeat": "connection_lost" if step in FAIL_SAFE else "ok",
        "peak_shaving": step in PEAK_SHAVING_ON,
        "der": step in DER_LIMIT_ON,
    }


def post(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": INGEST, "variables": {"p": body}})
    data = response.json()
    assert not data.get("errors"), data
    result: dict[str, Any] = data["data"]["ingestSensorPacket"]
    assert result["__typename"] == "SensorPacketIngested", result
    return result


def post_now(base_url: str, token: str, device_id: str, **readings: Any) -> datetime:
    """One packet stamped now; its timestamp."""
    at = datetime.now(UTC)
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        post(client, packet(device_id, at, **readings))
    return at
