"""ingestSensorPacket: a valid packet for the bound controller, with one or two
of its parts made hostile. Accepted packets are applied, so the reads after
them show what a stored hostile value does to the card, history and packets."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.invariants import Site, accepted, check, check_reads, post
from tests.hostile.profile import hostile
from tests.hostile.strategies import (
    NAN,
    Raw,
    hostile_ids,
    hostile_json,
    hostile_numbers,
    hostile_strings,
)

INGEST = """mutation ($packet: JSON!) { ingestSensorPacket(packet: $packet) { __typename
  ... on SensorPacketIngested { packetId outcomes { action outcome code } }
  ... on Problem { code message } } }"""

MEASURANDS: list[tuple[str, Any, str | None]] = [
    ("AVAILABLE_CHARGING_CAPACITY", 40_000, "W"),
    ("FAIL_SAFE_CAPACITY", 20_000.5, "W"),
    ("HEARTBEAT_STATUS", "ok", None),
    ("LIMIT_DER_EXPORT", "true", None),
    ("LIMIT_PEAK_SHAVING", "false", None),
    ("SOC", 55.5, "%"),
    ("DEVICE_POWER_STATE", "on", None),
    ("BESS_OPERATIONAL_MODE", "idle", None),
    ("TOTAL_POWER_LOAD", 1200, "W"),
    ("DISPATCH_STATE", "on", None),
    ("FREQUENCY", 50.0, "Hz"),
]
MS = 1000
EPOCH_2000_MS = 946_684_800_000


def valid_packet(site: Site, now_ms: int) -> dict[str, Any]:
    return {
        "device_id": site.device_id,
        "timestamp": now_ms,
        "manufacturer": "BBA",
        "model": "MGC-1",
        "serial_number": "S-1",
        "firmware": "1.0",
        "sensors": [
            {
                "sensor_id": "mgc",
                "measurands": [{"key": k, "value": v, "unit": u} for k, v, u in MEASURANDS],
            }
        ],
    }


def hostile_timestamps(now_ms: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(
            [
                now_ms + 300 * MS + 1,
                now_ms + 10**12,
                EPOCH_2000_MS - 1,
                EPOCH_2000_MS,
                0,
                -1,
                -62_135_596_800_000,  # 0001-01-01
                253_402_300_799_999,  # 9999-12-31
                253_402_300_800_000,
                2**63,
                2**64,
                -(2**63) - 1,
                now_ms + 0.5,
                float(now_ms),
                1e308,
                NAN,
                Raw("Infinity"),
                Raw("-Infinity"),
                Raw("1e400"),
                True,
                str(now_ms),
                "2026-01-01T00:00:00Z",
                "0001-01-01T00:00:00Z",
                None,
                [now_ms],
            ]
        ),
        st.integers(),
        st.floats(),
        # Bounds fixed, the clock applied after the draw: hypothesis replays a
        # case only if its strategies do not move with the clock.
        st.integers(-(9 * 10**11), 301 * MS).map(lambda offset: now_ms + offset),
    )


values = st.one_of(hostile_numbers, hostile_strings, hostile_json)
units = st.one_of(
    st.sampled_from(["kW", "MW", "mW", "w", "W ", "%", "Hz", "A", "V", "", None, 1, []]),
    hostile_strings,
)
keys = st.one_of(
    st.sampled_from(
        [
            "available_charging_capacity",
            "SOC ",
            "X" * 65,
            "A" * 64,
            "FOO_BAR",
            "1SOC",
            "_SOC",
            "SOC\x00",
            "",
            None,
            5,
        ]
    ),
    hostile_strings,
    st.from_regex(r"\A[A-Z][A-Z0-9_]{0,63}\Z"),
)


@st.composite
def mutation(draw: st.DrawFn, packet: dict[str, Any], now_ms: int) -> Any:
    """The packet with one part made hostile."""
    part = draw(
        st.sampled_from(
            [
                "device_id",
                "timestamp",
                "identity",
                "unknown key",
                "drop key",
                "sensors",
                "many sensors",
                "sensor_id",
                "key",
                "value",
                "value",
                "unit",
                "measurand shape",
                "many measurands",
                "duplicate key",
                "not an object",
            ]
        )
    )
    sensor = packet["sensors"][0]
    index = draw(st.integers(0, len(MEASURANDS) - 1))
    measurand = sensor["measurands"][index]
    if part == "device_id":
        packet["device_id"] = draw(hostile_ids)
    elif part == "timestamp":
        packet["timestamp"] = draw(hostile_timestamps(now_ms))
    elif part == "identity":
        field = draw(st.sampled_from(["manufacturer", "model", "serial_number", "firmware"]))
        packet[field] = draw(st.one_of(hostile_strings, hostile_json))
    elif part == "unknown key":
        packet[draw(hostile_strings)] = draw(hostile_json)
    elif part == "drop key":
        packet.pop(draw(st.sampled_from(sorted(packet))))
    elif part == "sensors":
        packet["sensors"] = draw(st.one_of(hostile_json, st.lists(hostile_json, max_size=3)))
    elif part == "many sensors":
        count = draw(st.sampled_from([32, 33, 200]))
        packet["sensors"] = [dict(sensor, sensor_id=f"s{i}") for i in range(count)]
    elif part == "sensor_id":
        sensor["sensor_id"] = draw(st.one_of(hostile_strings, hostile_json))
    elif part == "key":
        measurand["key"] = draw(keys)
    elif part == "value":
        measurand["value"] = draw(values)
    elif part == "unit":
        measurand["unit"] = draw(units)
    elif part == "measurand shape":
        sensor["measurands"][index] = draw(
            st.one_of(
                hostile_json,
                st.just({"key": measurand["key"]}),
                st.just({**measurand, draw(hostile_strings): draw(hostile_json)}),
            )
        )
    elif part == "many measurands":
        count = draw(st.sampled_from([64, 65, 1001]))
        sensor["measurands"] = [
            {"key": f"EXTRA_{i}", "value": i, "unit": None} for i in range(count)
        ]
    elif part == "duplicate key":
        sensor["measurands"].append({**measurand, "value": draw(values)})
    else:
        return draw(st.one_of(hostile_json, hostile_strings, hostile_numbers))
    return packet


@hostile
@given(data=st.data())
async def test_hostile_packets_are_refused_or_applied_harmlessly(site, http, clock, log, data):
    now_ms = int(clock.current.timestamp() * 1000)
    packet = data.draw(mutation(copy.deepcopy(valid_packet(site, now_ms)), now_ms), label="packet")
    body = check(
        await post(http, site.token, INGEST, {"packet": packet}), log, "ingestSensorPacket"
    )
    if accepted(body):
        await check_reads(http, site, log)
    clock.advance(1)


async def test_the_valid_packet_is_applied(site, http, clock, log):
    """The starting point of every example really is accepted and applied."""
    now_ms = int(clock.current.timestamp() * 1000)
    body = check(
        await post(http, site.token, INGEST, {"packet": valid_packet(site, now_ms)}), log, "valid"
    )
    result = body["data"]["ingestSensorPacket"]
    assert result["__typename"] == "SensorPacketIngested", result
    assert {o["outcome"] for o in result["outcomes"]} == {"APPLIED"}, result
    await check_reads(http, site, log)
