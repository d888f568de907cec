"""Sensor actions: routing, outcomes and capacity (DESIGN §2), with in-memory fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from domain.access import EVERYWHERE
from domain.bindings import configure_sensor_action, create_binding, set_binding_enabled
from domain.capability import CapabilityType, OperationalStatus
from domain.capacity import CapacitySource, effective_capacity
from domain.card import card_for_depot
from domain.circuits import NewCircuitCommand, create_circuit
from domain.depots import NewCircuit, create_depot
from domain.equipment import (
    NewDevice,
    NewGateway,
    NewPowerSource,
    create_device,
    create_gateway,
    create_power_source,
)
from domain.model import BessOperationalMode, PowerSourceKind, SensorActionType
from domain.packet_ingest import PacketIngested, ingest_packet
from domain.problems import NotFound, ValidationFailed
from tests.support.clock import FakeClock
from tests.support.fakes import Store, fake_dependencies

DER, PS = CapabilityType.DER, CapabilityType.PEAK_SHAVING
T = SensorActionType


class Site:
    """A depot with one feeder, a gateway (siteModelName null) and a controller device."""

    async def build(self, *, device_on_circuit: bool = True, stale_after: int = 300):
        self.store, self.clock = Store(), FakeClock(tick=timedelta(0))
        self.deps = fake_dependencies(self.store, self.clock, stale_after_seconds=stale_after)
        created = await create_depot(self.deps, EVERYWHERE, "Depot", [NewCircuit("Feeder", 1e5)])
        self.depot_id = created.depot.id
        self.microgrid = created.sync.microgrid
        self.feeder = self.microgrid.grid_connections[0].circuit_id
        self.gateway = await create_gateway(
            self.deps, EVERYWHERE, NewGateway(self.depot_id, "gw", site_model_name=None)
        )
        self.device = await create_device(
            self.deps,
            EVERYWHERE,
            NewDevice(
                self.depot_id,
                "controller",
                self.gateway.id,
                self.feeder if device_on_circuit else None,
            ),
        )
        return self

    async def source(self, name, kind=PowerSourceKind.BATTERY, on_feeder=False, circuit=None):
        return await create_power_source(
            self.deps,
            EVERYWHERE,
            NewPowerSource(
                self.depot_id, kind, name, circuit or (self.feeder if on_feeder else None)
            ),
        )

    async def action(self, action_type, enabled=True):
        return await configure_sensor_action(
            self.deps, EVERYWHERE, self.device.id, action_type, enabled
        )

    async def bind(self, *capabilities, stale_after=None, device=None):
        return await create_binding(
            self.deps,
            EVERYWHERE,
            self.microgrid.id,
            (device or self.device).id,
            list(capabilities),
            stale_after,
        )

    async def send(self, *measurands, offset_ms=0, device=None):
        ts = int(self.clock.current.timestamp() * 1000) + offset_ms
        raw = {
            "device_id": str((device or self.device).id),
            "timestamp": ts,
            "manufacturer": None,
            "model": None,
            "serial_number": None,
            "sensors": [
                {
                    "sensor_id": "s1",
                    "measurands": [{"key": k, "value": v, "unit": None} for k, v in measurands],
                }
            ],
        }
        result = await ingest_packet(self.deps, EVERYWHERE, raw)
        assert isinstance(result, PacketIngested), result
        return {o.action: o for o in result.record.outcomes}


@pytest.fixture
async def site():
    return await Site().build()


def _code(outcome):
    return outcome.outcome.value, outcome.code


async def test_microgrid_state_applies_only_the_capabilities_its_binding_owns(site):
    binding = await site.bind(DER)
    outcomes = await site.send(("LIMIT_DER_EXPORT", "true"), ("LIMIT_PEAK_SHAVING", "false"))
    state = outcomes[T.UPDATE_MICROGRID_STATE]
    assert _code(state) == ("APPLIED", "APPLIED")
    assert state.target_id == site.microgrid.id and state.measurands == ("LIMIT_DER_EXPORT",)
    assert state.sensor_action_id == binding.id
    card = await card_for_depot(site.deps, EVERYWHERE, site.depot_id)
    assert card.der.status is OperationalStatus.ON
    assert card.peak_shaving.status is OperationalStatus.UNKNOWN, "never inferred"
    event = site.store.events[site.microgrid.id][0]
    assert event.observation.provider_event_ref == (
        f"{site.device.id}:{int(site.clock.current.timestamp() * 1000)}:LIMIT_DER_EXPORT"
    )
    assert event.observation.source_device_id == site.device.id


async def test_dispatch_state_never_becomes_peak_shaving(site):
    await site.bind(PS, DER)
    outcomes = await site.send(("DISPATCH_STATE", "on"))
    assert _code(outcomes[T.UPDATE_MICROGRID_STATE]) == ("SKIPPED", "MEASURAND_ABSENT")
    assert site.microgrid.id not in site.store.events


async def test_a_resent_packet_is_a_duplicate_and_changed_content_is_rejected(site):
    await site.bind(DER)
    first = await site.send(("LIMIT_DER_EXPORT", "true"))
    again = await site.send(("LIMIT_DER_EXPORT", "true"))
    changed = await site.send(("LIMIT_DER_EXPORT", "false"))
    assert _code(first[T.UPDATE_MICROGRID_STATE]) == ("APPLIED", "APPLIED")
    assert _code(again[T.UPDATE_MICROGRID_STATE]) == ("SKIPPED", "DUPLICATE")
    assert _code(changed[T.UPDATE_MICROGRID_STATE]) == ("REJECTED", "PROVIDER_EVENT_REF_REUSED")
    assert len(site.store.events[site.microgrid.id]) == 1
    assert len(site.store.packets) == 3, "every packet is kept"


async def test_null_statuses_are_unavailable_not_off(site):
    await site.bind(DER)
    outcomes = await site.send(("LIMIT_DER_EXPORT", None))
    assert _code(outcomes[T.UPDATE_MICROGRID_STATE]) == ("SKIPPED", "VALUE_UNAVAILABLE")


async def test_a_disabled_binding_stops_ingest_and_keeps_the_record(site):
    binding = await site.bind(DER)
    await set_binding_enabled(site.deps, EVERYWHERE, binding.id, False)
    outcomes = await site.send(("LIMIT_DER_EXPORT", "true"))
    assert _code(outcomes[T.UPDATE_MICROGRID_STATE]) == ("SKIPPED", "ACTION_DISABLED")
    assert binding.id in site.store.sensor_actions
    assert site.microgrid.id not in site.store.events


async def test_the_binding_threshold_drives_freshness(site):
    await site.bind(DER, stale_after=30)
    await site.send(("LIMIT_DER_EXPORT", "true"))
    card = await card_for_depot(site.deps, EVERYWHERE, site.depot_id)
    assert (card.der.stale_after_seconds, card.peak_shaving.stale_after_seconds) == (30, 300)
    site.clock.advance(30)
    card = await card_for_depot(site.deps, EVERYWHERE, site.depot_id)
    assert card.der.freshness.value == "STALE"
    assert site.store.sensor_actions[next(iter(site.store.sensor_actions))].last_reported_at


@pytest.mark.parametrize("site_model_name", [None, "BBA-MGC"])
async def test_routing_rule_1_the_one_power_source_on_the_device_circuit(site_model_name):
    site = await Site().build()
    site.gateway.site_model_name = site_model_name
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    on_feeder = await site.source("BESS A", on_feeder=True)
    await site.source("BESS B")
    outcomes = await site.send(("SOC", 40), ("DEVICE_POWER_STATE", "on"))
    state = outcomes[T.UPDATE_POWER_SOURCE_STATE]
    assert _code(state) == ("APPLIED", "APPLIED") and state.target_id == on_feeder.id
    assert "DEVICE_CIRCUIT" in state.message
    stored = site.store.power_sources[on_feeder.id]
    assert (stored.soc_percent, stored.power_state) == (40.0, "on")


async def test_routing_rule_2_the_one_battery_in_the_depot():
    site = await Site().build(device_on_circuit=False)
    await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    await site.source("PV", PowerSourceKind.SOLAR)
    battery = await site.source("BESS")
    outcomes = await site.send(("TOTAL_POWER_LOAD", -2500))
    load = outcomes[T.UPDATE_POWER_SOURCE_LOAD]
    assert _code(load) == ("APPLIED", "APPLIED") and load.target_id == battery.id
    assert site.store.power_sources[battery.id].load_w == -2500.0


@pytest.mark.parametrize("mapping_key", ["powerSourceId", "UPDATE_POWER_SOURCE_STATE"])
async def test_routing_rule_3_the_gateway_output_translation(mapping_key):
    site = await Site().build(device_on_circuit=False)
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    await site.source("BESS A")
    second = await site.source("BESS B")
    site.store.gateways[site.gateway.id].output_translation = {mapping_key: str(second.id)}
    outcomes = await site.send(("BESS_OPERATIONAL_MODE", "charging"))
    state = outcomes[T.UPDATE_POWER_SOURCE_STATE]
    assert _code(state) == ("APPLIED", "APPLIED") and state.target_id == second.id
    assert site.store.power_sources[second.id].operational_mode is BessOperationalMode.CHARGING


async def test_no_power_source_and_ambiguous_batteries_need_remediation():
    site = await Site().build(device_on_circuit=False)
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    none = await site.send(("SOC", 10))
    assert _code(none[T.UPDATE_POWER_SOURCE_STATE]) == ("REMEDIATION_REQUIRED", "NO_POWER_SOURCE")
    await site.source("BESS A")
    await site.source("BESS B")
    two = await site.send(("SOC", 10), offset_ms=1)
    assert _code(two[T.UPDATE_POWER_SOURCE_STATE]) == (
        "REMEDIATION_REQUIRED",
        "AMBIGUOUS_POWER_SOURCE",
    )
    assert all(p.soc_percent is None for p in site.store.power_sources.values()), "no guess"


async def test_two_sources_on_the_circuit_fall_through_to_the_lone_battery(site):
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    await site.source("PV 1", PowerSourceKind.SOLAR, on_feeder=True)
    await site.source("PV 2", PowerSourceKind.SOLAR, on_feeder=True)
    battery = await site.source("BESS")
    outcomes = await site.send(("SOC", 70))
    assert outcomes[T.UPDATE_POWER_SOURCE_STATE].target_id == battery.id


@pytest.mark.parametrize("mode", ["idle", "charging", "discharging", "automatic", "error"])
async def test_every_bess_mode_is_stored(site, mode):
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    battery = await site.source("BESS")
    await site.send(("BESS_OPERATIONAL_MODE", mode))
    assert site.store.power_sources[battery.id].operational_mode.value == mode.upper()


async def test_an_older_packet_does_not_overwrite_newer_power_source_state(site):
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    battery = await site.source("BESS")
    await site.send(("SOC", 80))
    older = await site.send(("SOC", 20), offset_ms=-5000)
    assert _code(older[T.UPDATE_POWER_SOURCE_STATE]) == ("SKIPPED", "OLDER_THAN_CURRENT")
    assert site.store.power_sources[battery.id].soc_percent == 80.0


async def test_circuit_capacity_outcomes(site):
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    absent = await site.send(("SOC", 5))
    one_missing = await site.send(("AVAILABLE_CHARGING_CAPACITY", 5e4), offset_ms=1)
    other_missing = await site.send(("HEARTBEAT_STATUS", "ok"), offset_ms=2)
    applied = await site.send(
        ("AVAILABLE_CHARGING_CAPACITY", 5e4),
        ("HEARTBEAT_STATUS", "ok"),
        ("FAIL_SAFE_CAPACITY", 2e4),
        offset_ms=3,
    )
    cap = T.UPDATE_CIRCUIT_CAPACITY
    assert _code(absent[cap]) == ("SKIPPED", "MEASURAND_ABSENT")
    assert _code(one_missing[cap]) == ("REJECTED", "REQUIRED_MEASURAND_MISSING")
    assert _code(other_missing[cap]) == ("REJECTED", "REQUIRED_MEASURAND_MISSING")
    assert _code(applied[cap]) == ("APPLIED", "APPLIED") and applied[cap].target_id == site.feeder
    circuit = site.store.circuits[site.feeder]
    assert (
        circuit.available_capacity_w,
        circuit.fail_safe_capacity_w,
        circuit.heartbeat_status,
    ) == (5e4, 2e4, "ok")


async def test_a_device_without_circuit_cannot_report_capacity():
    site = await Site().build(device_on_circuit=False)
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    outcomes = await site.send(("AVAILABLE_CHARGING_CAPACITY", 1), ("HEARTBEAT_STATUS", "ok"))
    assert _code(outcomes[T.UPDATE_CIRCUIT_CAPACITY]) == (
        "REMEDIATION_REQUIRED",
        "DEVICE_HAS_NO_CIRCUIT",
    )


async def test_effective_capacity_falls_back_and_recovers(site):
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)

    def effective():
        c = site.store.circuits[site.feeder]
        e = effective_capacity(c, site.clock.current, 300)
        return e.watts, e.source

    assert effective() == (1e5, CapacitySource.CONFIGURED_SAFE)
    await site.send(
        ("AVAILABLE_CHARGING_CAPACITY", 5e4),
        ("HEARTBEAT_STATUS", "ok"),
        ("FAIL_SAFE_CAPACITY", 2e4),
    )
    assert effective() == (5e4, CapacitySource.CONTROLLER_AVAILABLE)
    for heartbeat in ("connection_lost", "timeout", "error"):
        site.clock.advance(1)
        await site.send(("AVAILABLE_CHARGING_CAPACITY", 5e4), ("HEARTBEAT_STATUS", heartbeat))
        assert effective() == (2e4, CapacitySource.CONTROLLER_FAIL_SAFE)
    site.clock.advance(1)
    await site.send(("AVAILABLE_CHARGING_CAPACITY", 6e4), ("HEARTBEAT_STATUS", "ok"))
    assert effective() == (6e4, CapacitySource.CONTROLLER_AVAILABLE), "recovers by itself"
    site.clock.advance(301)
    assert effective() == (2e4, CapacitySource.CONTROLLER_FAIL_SAFE), "a stale report is not used"
    site.store.circuits[site.feeder] = replace(
        site.store.circuits[site.feeder], fail_safe_capacity_w=None
    )
    assert effective() == (1e5, CapacitySource.CONFIGURED_SAFE)


async def test_each_configured_action_gives_exactly_one_outcome(site):
    await site.bind(DER)
    for action_type in (
        T.UPDATE_POWER_SOURCE_STATE,
        T.UPDATE_POWER_SOURCE_LOAD,
        T.UPDATE_CIRCUIT_CAPACITY,
    ):
        await site.action(action_type)
    outcomes = await site.send(("CURRENT", 3))
    assert sorted(outcomes) == sorted(T)
    assert {o.outcome.value for o in outcomes.values()} == {"SKIPPED"}


async def test_unknown_devices_and_contract_violations_apply_nothing(site):
    await site.bind(DER)
    now_ms = int(site.deps.clock.now().timestamp() * 1000)
    unknown = await ingest_packet(
        site.deps,
        EVERYWHERE,
        {
            "device_id": "00000000-0000-4000-8000-000000000000",
            "timestamp": now_ms,
            "manufacturer": None,
            "model": None,
            "serial_number": None,
            "sensors": [],
        },
    )
    broken = await ingest_packet(
        site.deps,
        EVERYWHERE,
        {
            "device_id": str(site.device.id),
            "timestamp": now_ms,
            "manufacturer": None,
            "model": None,
            "serial_number": None,
            "sensors": [
                {
                    "sensor_id": "s",
                    "measurands": [
                        {"key": "LIMIT_DER_EXPORT", "value": "true", "unit": None},
                        {"key": "SOC", "value": 140, "unit": "%"},
                    ],
                }
            ],
        },
    )
    assert isinstance(unknown, NotFound) and unknown.code == "DEVICE_NOT_FOUND"
    assert isinstance(broken, ValidationFailed)
    assert [e.field for e in broken.field_errors] == ["packet.sensors[0].measurands[1].value"]
    assert site.store.packets == [] and site.store.events == {}


async def test_configure_sensor_action_rules(site):
    needs_binding = await site.action(T.UPDATE_MICROGRID_STATE)
    created = await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    disabled = await site.action(T.UPDATE_POWER_SOURCE_LOAD, enabled=False)
    missing = await configure_sensor_action(
        site.deps, EVERYWHERE, None, T.UPDATE_POWER_SOURCE_LOAD, True
    )
    assert needs_binding.field_errors[0].code == "BINDING_REQUIRED"
    assert created.id == disabled.id and not disabled.enabled
    assert isinstance(missing, NotFound)


async def test_a_second_top_level_circuit_does_not_disturb_bindings(site):
    binding = await site.bind(DER)
    await create_circuit(site.deps, EVERYWHERE, NewCircuitCommand(site.depot_id, "Feeder 2"))
    assert site.store.sensor_actions[binding.id].microgrid_id == site.microgrid.id
