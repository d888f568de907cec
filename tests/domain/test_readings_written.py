"""Packet ingest writes load-chart readings for applied updates only, in the
packet's transaction: power-source load and SOC; for a capacity report, the
report as the circuit holds it after it and the available / fail-safe /
effective capacity at the packet's observed time. With in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.capability import CapabilityType
from domain.readings import CapacityReport, Reading, ReadingKind
from tests.domain.test_sensor_actions import Site, T

K = ReadingKind


@pytest.fixture
async def site():
    return await Site().build()


def _at(site: Site, offset_ms: int = 0) -> datetime:
    """The observed time of a packet ``Site.send`` sends now (whole ms)."""
    ms = int(site.clock.current.timestamp() * 1000) + offset_ms
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


async def test_power_source_load_and_soc_become_readings(site):
    battery = await site.source("BESS", on_feeder=True)
    await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    await site.send(("TOTAL_POWER_LOAD", -2500), ("SOC", 40), ("DEVICE_POWER_STATE", "on"))
    at = _at(site)
    assert sorted(site.store.readings, key=lambda r: r.kind) == [
        Reading(site.depot_id, battery.id, K.POWER_SOURCE_LOAD_W, at, -2500.0),
        Reading(site.depot_id, battery.id, K.POWER_SOURCE_SOC_PERCENT, at, 40.0),
    ]
    assert site.store.capacity_reports == []


async def test_unavailable_values_and_other_keys_write_no_reading(site):
    await site.source("BESS", on_feeder=True)
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    outcomes = await site.send(
        ("SOC", None), ("TOTAL_POWER_LOAD", None), ("DEVICE_POWER_STATE", "on")
    )
    assert outcomes[T.UPDATE_POWER_SOURCE_STATE].outcome.value == "APPLIED"
    assert site.store.readings == [], "null is a gap, never a zero"


async def test_skipped_rejected_and_remediation_outcomes_write_no_reading(site):
    await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    await site.send(("TOTAL_POWER_LOAD", 10))  # no power source: remediation
    await site.send(("HEARTBEAT_STATUS", "ok"), offset_ms=1)  # rejected: available missing
    await site.source("BESS")
    await site.send(
        ("TOTAL_POWER_LOAD", 10),
        ("AVAILABLE_CHARGING_CAPACITY", 5e4),
        ("HEARTBEAT_STATUS", "ok"),
        offset_ms=10,
    )
    before = (list(site.store.readings), list(site.store.capacity_reports))
    await site.send(
        ("TOTAL_POWER_LOAD", 20),
        ("AVAILABLE_CHARGING_CAPACITY", 6e4),
        ("HEARTBEAT_STATUS", "ok"),
        offset_ms=5,
    )  # older than current: skipped
    assert (site.store.readings, site.store.capacity_reports) == before
    assert len(before[0]) == 3 and len(before[1]) == 1


async def test_a_re_sent_packet_writes_no_second_reading_and_says_so(site):
    """Same device, instant and values: the power source and the circuit
    already hold them, so the retry is SKIPPED (ALREADY_CURRENT) and charted
    once; a packet at the same instant with other values still applies (the
    later-written value is the instant's last)."""
    await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    await site.source("BESS", on_feeder=True)
    packet = (
        ("TOTAL_POWER_LOAD", 10),
        ("AVAILABLE_CHARGING_CAPACITY", 5e4),
        ("HEARTBEAT_STATUS", "ok"),
    )
    first = await site.send(*packet)
    before = (list(site.store.readings), list(site.store.capacity_reports))
    again = await site.send(*packet)
    assert {a: o.outcome.value for a, o in first.items()} == {
        T.UPDATE_POWER_SOURCE_LOAD: "APPLIED",
        T.UPDATE_CIRCUIT_CAPACITY: "APPLIED",
    }
    assert {a: (o.outcome.value, o.code) for a, o in again.items()} == {
        T.UPDATE_POWER_SOURCE_LOAD: ("SKIPPED", "ALREADY_CURRENT"),
        T.UPDATE_CIRCUIT_CAPACITY: ("SKIPPED", "ALREADY_CURRENT"),
    }
    assert (site.store.readings, site.store.capacity_reports) == before
    corrected = await site.send(
        ("TOTAL_POWER_LOAD", 12), *packet[1:2], ("HEARTBEAT_STATUS", "timeout")
    )
    assert {o.code for o in corrected.values()} == {"APPLIED"}
    assert len(site.store.readings) == len(before[0]) + 3 and len(site.store.capacity_reports) == 2


async def test_a_capacity_report_writes_the_report_and_three_readings(site):
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    await site.send(
        ("AVAILABLE_CHARGING_CAPACITY", 5e4),
        ("HEARTBEAT_STATUS", "ok"),
        ("FAIL_SAFE_CAPACITY", 2e4),
    )
    at, feeder = _at(site), site.feeder
    assert site.store.capacity_reports == [
        CapacityReport(site.depot_id, feeder, at, 5e4, 2e4, "ok")
    ]
    assert site.store.readings == [
        Reading(site.depot_id, feeder, K.CIRCUIT_AVAILABLE_CAPACITY_W, at, 5e4),
        Reading(site.depot_id, feeder, K.CIRCUIT_FAIL_SAFE_CAPACITY_W, at, 2e4),
        Reading(site.depot_id, feeder, K.CIRCUIT_EFFECTIVE_CAPACITY_W, at, 5e4),
    ]


async def test_effective_capacity_follows_the_heartbeat_and_the_fail_safe_persists(site):
    """Lost heartbeat: the fail-safe value (kept from an earlier report); with no
    fail-safe ever reported, the configured safe capacity (1e5 on the feeder)."""
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    await site.send(("AVAILABLE_CHARGING_CAPACITY", 5e4), ("HEARTBEAT_STATUS", "connection_lost"))
    await site.send(
        ("AVAILABLE_CHARGING_CAPACITY", 5e4),
        ("HEARTBEAT_STATUS", "ok"),
        ("FAIL_SAFE_CAPACITY", 2e4),
        offset_ms=1,
    )
    await site.send(
        ("AVAILABLE_CHARGING_CAPACITY", 4e4), ("HEARTBEAT_STATUS", "timeout"), offset_ms=2
    )
    effective = [r.value for r in site.store.readings if r.kind is K.CIRCUIT_EFFECTIVE_CAPACITY_W]
    assert effective == [1e5, 5e4, 2e4]
    last = site.store.capacity_reports[-1]
    assert (last.available_w, last.fail_safe_w, last.heartbeat) == (4e4, 2e4, "timeout")
    fail_safe = [r.value for r in site.store.readings if r.kind is K.CIRCUIT_FAIL_SAFE_CAPACITY_W]
    assert fail_safe == [2e4, 2e4], "the circuit's fail-safe after each report, once known"


async def test_one_packet_for_every_action_writes_its_readings_once(site):
    await site.bind(CapabilityType.DER)
    battery = await site.source("BESS", on_feeder=True)
    for action_type in (
        T.UPDATE_POWER_SOURCE_STATE,
        T.UPDATE_POWER_SOURCE_LOAD,
        T.UPDATE_CIRCUIT_CAPACITY,
    ):
        await site.action(action_type)
    await site.send(
        ("LIMIT_DER_EXPORT", "true"),
        ("SOC", 70),
        ("TOTAL_POWER_LOAD", 1200),
        ("AVAILABLE_CHARGING_CAPACITY", 5e4),
        ("HEARTBEAT_STATUS", "ok"),
    )
    assert {(r.subject_id, r.kind) for r in site.store.readings} == {
        (battery.id, K.POWER_SOURCE_SOC_PERCENT),
        (battery.id, K.POWER_SOURCE_LOAD_W),
        (site.feeder, K.CIRCUIT_AVAILABLE_CAPACITY_W),
        (site.feeder, K.CIRCUIT_EFFECTIVE_CAPACITY_W),
    }
    assert len(site.store.readings) == 4 and len(site.store.capacity_reports) == 1


LOADS = st.lists(
    st.tuples(st.integers(-5_000, 5_000), st.one_of(st.none(), st.floats(-1e9, 1e9))),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(packets=LOADS)
async def test_readings_are_the_values_the_power_source_took(packets):
    """Any order of packets (older ones are skipped, and so is one at the
    current instant with the current value: a re-send), any value or null:
    the readings are exactly the applied, available values, at their
    packets' times."""
    site = await Site().build()
    battery = await site.source("BESS", on_feeder=True)
    await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    expected, newest, current = [], None, None
    for offset_ms, value in packets:
        at = _at(site, offset_ms)
        await site.send(("TOTAL_POWER_LOAD", value), offset_ms=offset_ms)
        if newest is None or at > newest or (at == newest and value != current):
            newest, current = at, value
            if value is not None:
                expected.append(
                    Reading(site.depot_id, battery.id, K.POWER_SOURCE_LOAD_W, at, value)
                )
    assert site.store.readings == expected
