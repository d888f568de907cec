"""The packet path's reads and grouped writes: the same on every store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from domain.access import EVERYWHERE, Scope
from domain.capability import CapabilityType, Observation, StatusEvent
from domain.model import (
    BessOperationalMode,
    Circuit,
    Depot,
    Device,
    Gateway,
    Microgrid,
    PowerSource,
    PowerSourceKind,
    SensorAction,
    SensorActionType,
)

T = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


async def _site(deps, name: str = "D"):
    depot = Depot(uuid4(), name, T)
    circuit = Circuit(uuid4(), depot.id, "F", None, 0, T, 1e5)
    gateway = Gateway(uuid4(), depot.id, "gw", None, {"powerSourceId": "x"}, T)
    device = Device(uuid4(), depot.id, "mgc", gateway.id, circuit.id, T)
    source = PowerSource(uuid4(), depot.id, PowerSourceKind.BATTERY, "bess", None, T)
    microgrid = Microgrid(uuid4(), depot.id, 1, T, T)
    binding = SensorAction(
        uuid4(),
        device.id,
        SensorActionType.UPDATE_MICROGRID_STATE,
        True,
        T,
        T,
        microgrid.id,
        [CapabilityType.DER],
    )
    load = SensorAction(uuid4(), device.id, SensorActionType.UPDATE_POWER_SOURCE_LOAD, True, T, T)
    async with deps.uow() as uow:
        await uow.depots.add(depot)
        await uow.circuits.add(circuit)
        await uow.microgrids.add_if_absent([microgrid])
        await uow.equipment.add_gateway(gateway)
        await uow.equipment.add_device(device)
        await uow.equipment.add_power_source(source)
        await uow.sensor_actions.add(binding)
        await uow.sensor_actions.add(load)
        await uow.commit()
    return depot, circuit, gateway, device, source, microgrid, binding, load


async def test_a_packets_lookups_in_one_read_and_only_in_scope(deps):
    depot, circuit, gateway, device, source, _m, binding, load = await _site(deps)
    *_, other_device, _s, _mg, _b, _l = await _site(deps, "E")

    async with deps.uow(write=False) as uow:
        found = await uow.packet_facts.load([device.id, other_device.id, uuid4()], EVERYWHERE)
        scoped = await uow.packet_facts.load([device.id, other_device.id], Scope.only(depot.id))
        nothing = await uow.packet_facts.load([uuid4()], EVERYWHERE)

    assert set(found.devices) == {device.id, other_device.id}
    assert found.devices[device.id] == device
    assert sorted(found.actions[device.id], key=lambda a: a.type) == sorted(
        [binding, load], key=lambda a: a.type
    )
    assert found.power_sources[depot.id] == [source]
    assert found.gateways[gateway.id] == gateway
    assert found.circuits[circuit.id] == circuit
    assert list(scoped.devices) == [device.id]
    assert set(scoped.power_sources) == {depot.id}
    assert nothing.devices == {} and nothing.power_sources == {}


async def test_grouped_writes_touch_only_what_packets_own(deps):
    depot, circuit, _g, device, source, microgrid, binding, _l = await _site(deps)
    at = T + timedelta(minutes=1)
    # An admin's rename in the caller's copy must not be written by ingest.
    packet_source = replace(
        source,
        name="renamed?",
        power_state="on",
        operational_mode=BessOperationalMode.CHARGING,
        soc_percent=55.5,
        load_w=-1200.0,
        updated_at=at,
    )
    packet_circuit = replace(
        circuit,
        name="renamed?",
        available_capacity_w=4e4,
        fail_safe_capacity_w=2e4,
        heartbeat_status="ok",
        capacity_observed_at=at,
        capacity_updated_at=at,
    )
    reported = replace(binding, last_reported_at=at, enabled=False)
    async with deps.uow() as uow:
        await uow.equipment.record_power_source_states([packet_source])
        await uow.circuits.record_capacity_reports([packet_circuit])
        await uow.sensor_actions.record_last_reported([reported])
        bumped = await uow.microgrids.bump_revisions([microgrid.id], [depot.id, uuid4()])
        await uow.commit()

    async with deps.uow(write=False) as uow:
        stored = await uow.packet_facts.load([device.id], EVERYWHERE)
    assert stored.power_sources[depot.id] == [replace(packet_source, name=source.name)]
    assert stored.circuits[circuit.id] == replace(packet_circuit, name=circuit.name)
    stored_binding = next(a for a in stored.actions[device.id] if a.id == binding.id)
    assert stored_binding == replace(binding, last_reported_at=at)
    assert bumped == {microgrid.id: (depot.id, 2)}, "once, though named twice"


async def test_streams_are_held_then_appended_to_without_gaps(deps):
    *_, microgrid, _b, _l = await _site(deps)
    other = uuid4()

    def event(sequence: int, ref: str) -> StatusEvent:
        o = Observation(microgrid.id, CapabilityType.DER, True, T, ref)
        return StatusEvent(uuid4(), o, T, sequence, True)

    async with deps.uow() as uow:
        assert await uow.events.lock_streams([microgrid.id]) == {microgrid.id: 0}
        await uow.events.append_all([event(1, "a"), event(2, "b")])
        await uow.latest.put_all([event(2, "b")])
        await uow.commit()
    async with deps.uow() as uow:
        assert await uow.events.lock_streams([microgrid.id]) == {microgrid.id: 2}
        found = await uow.events.find_many(
            {(microgrid.id, "DER:a"), (microgrid.id, "DER:zzz"), (other, "DER:a")}
        )
        assert await uow.events.last_sequence(microgrid.id) == 2
        latest = await uow.latest.for_microgrids([microgrid.id])
    assert list(found) == [(microgrid.id, "DER:a")]
    assert found[(microgrid.id, "DER:a")].sequence == 1
    assert latest[microgrid.id][CapabilityType.DER].sequence == 2
