"""Repository contract: the same behaviour on SQLite, PostgreSQL and the
in-memory fakes (tests/persistence/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from domain.access import EVERYWHERE, Scope
from domain.model import (
    Circuit,
    Depot,
    Device,
    Gateway,
    GridConnection,
    Microgrid,
    PowerSource,
    PowerSourceKind,
)

T = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _depot(name: str = "D") -> Depot:
    return Depot(id=uuid4(), name=name, created_at=T)


def _microgrid(depot: Depot, *circuits: Circuit) -> Microgrid:
    m = Microgrid(id=uuid4(), depot_id=depot.id, version=1, created_at=T, updated_at=T)
    m.grid_connections = [
        GridConnection(uuid4(), m.id, c.id, c.name, i) for i, c in enumerate(circuits)
    ]
    return m


async def _committed(deps, depot: Depot, *circuits: Circuit, microgrids=()) -> None:
    """The depot, its circuits and microgrids, written by one committed unit of work."""
    async with deps.uow() as uow:
        await uow.depots.add(depot)
        for circuit in circuits:
            await uow.circuits.add(circuit)
        await uow.microgrids.add_if_absent(list(microgrids))
        await uow.commit()


async def test_depots_and_circuits_round_trip_with_aware_utc_times(deps):
    depot = _depot()
    top = Circuit(uuid4(), depot.id, "Top", None, 0, T, 1500.5)
    child = Circuit(uuid4(), depot.id, "Child", top.id, 3, T, None)
    async with deps.uow() as uow:
        await uow.depots.add(depot)
        await uow.circuits.add(top)
        await uow.circuits.add(child)
        await uow.commit()

    async with deps.uow(write=False) as uow:
        assert await uow.depots.get(depot.id) == depot
        assert sorted(await uow.circuits.for_depot(depot.id), key=lambda c: c.name) == [child, top]
        assert await uow.circuits.top_level_for_depots([depot.id]) == {depot.id: [top]}
        assert (await uow.depots.get(depot.id)).created_at.tzinfo is not None


async def test_leaving_without_commit_rolls_back(deps):
    depot = _depot()
    async with deps.uow() as uow:
        await uow.depots.add(depot)
    async with deps.uow(write=False) as uow:
        assert await uow.depots.get(depot.id) is None


async def test_add_if_absent_lets_only_one_active_microgrid_per_depot(deps):
    depot = _depot()
    top = Circuit(uuid4(), depot.id, "Top", None, 0, T)
    await _committed(deps, depot, top)
    first, second = _microgrid(depot, top), _microgrid(depot, top)

    async with deps.uow() as uow:
        assert await uow.microgrids.add_if_absent([first]) == {first.id}
        assert await uow.microgrids.add_if_absent([second]) == set()
        await uow.commit()

    async with deps.uow(write=False) as uow:
        stored = await uow.microgrids.for_depot(depot.id)
        assert stored == first
        assert await uow.microgrids.get(second.id) is None


async def test_save_replaces_grid_connections_and_version(deps):
    depot = _depot()
    a = Circuit(uuid4(), depot.id, "A", None, 0, T)
    b = Circuit(uuid4(), depot.id, "B", None, 1, T)
    microgrid = _microgrid(depot, a)
    await _committed(deps, depot, a, b, microgrids=[microgrid])

    microgrid.version = 2
    microgrid.grid_connections = [
        GridConnection(uuid4(), microgrid.id, b.id, "B", 0),
        microgrid.grid_connections[0],
    ]
    microgrid.grid_connections[1].position = 1
    async with deps.uow() as uow:
        await uow.microgrids.save(microgrid)
        await uow.commit()

    async with deps.uow(write=False) as uow:
        assert await uow.microgrids.get(microgrid.id) == microgrid
        assert await uow.microgrids.for_depots([depot.id]) == {depot.id: microgrid}


async def test_depot_pages_follow_name_then_id_and_respect_scope(deps):
    depots = [_depot(name) for name in ("b", "a", "c", "a")]
    async with deps.uow() as uow:
        for d in depots:
            await uow.depots.add(d)
        await uow.commit()
    expected = sorted(depots, key=lambda d: (d.name, str(d.id)))

    async with deps.uow(write=False) as uow:
        first = await uow.depots.page(EVERYWHERE, 2, None)
        rest = await uow.depots.page(EVERYWHERE, 10, (first[-1].name, first[-1].id))
        scoped = await uow.depots.page(Scope(frozenset({depots[2].id})), 10, None)
        assert first + rest == expected
        assert scoped == [depots[2]]
        assert await uow.depots.count() == 4
        batch = await uow.depots.lock_batch(None, 3)
        assert batch == sorted((d.id for d in depots), key=str)[:3]


async def test_equipment_round_trips(deps):
    depot = _depot()
    circuit = Circuit(uuid4(), depot.id, "Top", None, 0, T)
    gateway = Gateway(uuid4(), depot.id, "gw", None, {"battery": "x"}, T)
    device = Device(uuid4(), depot.id, "meter", gateway.id, circuit.id, T)
    source = PowerSource(uuid4(), depot.id, PowerSourceKind.BATTERY, "bess", circuit.id, T)
    async with deps.uow() as uow:
        await uow.depots.add(depot)
        await uow.circuits.add(circuit)
        await uow.equipment.add_gateway(gateway)
        await uow.equipment.add_device(device)
        await uow.equipment.add_power_source(source)
        await uow.commit()

    async with deps.uow(write=False) as uow:
        assert await uow.equipment.gateway(gateway.id) == gateway
        assert await uow.equipment.device(device.id) == device
        assert await uow.equipment.power_sources([depot.id]) == {depot.id: [source]}
        assert await uow.equipment.gateways([depot.id]) == {depot.id: [gateway]}
        assert await uow.equipment.devices([depot.id]) == {depot.id: [device]}


async def test_what_a_repository_hands_out_is_a_copy(deps):
    """Changing a returned object changes nothing until it is written back."""
    depot = _depot()
    top = Circuit(uuid4(), depot.id, "Top", None, 0, T)
    gateway = Gateway(uuid4(), depot.id, "gw", None, {"battery": "x"}, T)
    device = Device(uuid4(), depot.id, "meter", gateway.id, top.id, T)
    microgrid = _microgrid(depot, top)
    async with deps.uow() as uow:
        await uow.depots.add(depot)
        await uow.circuits.add(top)
        await uow.equipment.add_gateway(gateway)
        await uow.equipment.add_device(device)
        await uow.microgrids.add_if_absent([microgrid])
        await uow.commit()
    depot.name, top.name, device.name = "changed", "changed", "changed"

    async with deps.uow(write=False) as uow:
        (await uow.depots.get(depot.id)).name = "changed"
        (await uow.circuits.get(top.id)).name = "changed"
        (await uow.equipment.gateway(gateway.id)).output_translation["battery"] = "changed"
        (await uow.equipment.device(device.id)).name = "changed"
        (await uow.microgrids.get(microgrid.id)).grid_connections[0].name = "changed"
    async with deps.uow(write=False) as uow:
        assert (await uow.depots.get(depot.id)).name == "D"
        assert (await uow.circuits.get(top.id)).name == "Top"
        assert (await uow.equipment.gateway(gateway.id)).output_translation == {"battery": "x"}
        assert (await uow.equipment.device(device.id)).name == "meter"
        assert (await uow.microgrids.get(microgrid.id)).grid_connections[0].name == "Top"


async def test_save_counts_the_revision_on_from_the_stored_one(deps):
    """A caller holding an older copy still moves the revision forward by one."""
    depot = _depot()
    top = Circuit(uuid4(), depot.id, "Top", None, 0, T)
    await _committed(deps, depot, top, microgrids=[_microgrid(depot, top)])
    async with deps.uow() as uow:
        held = await uow.microgrids.for_depot(depot.id)
        bumped = await uow.microgrids.bump_revision(held.id)
        await uow.microgrids.save(held)
        await uow.commit()
    assert held.revision == bumped + 1
    async with deps.uow(write=False) as uow:
        assert (await uow.microgrids.get(held.id)).revision == bumped + 1


async def test_grid_connections_come_back_in_position_order(deps):
    depot = _depot()
    a = Circuit(uuid4(), depot.id, "A", None, 0, T)
    b = Circuit(uuid4(), depot.id, "B", None, 1, T)
    microgrid = _microgrid(depot, a, b)
    microgrid.grid_connections.reverse()
    await _committed(deps, depot, a, b, microgrids=[microgrid])
    async with deps.uow(write=False) as uow:
        stored = await uow.microgrids.get(microgrid.id)
    assert [n.name for n in stored.grid_connections] == ["A", "B"]


async def test_grouped_reads_leave_out_depots_without_rows(deps):
    depot, empty = _depot("with"), _depot("without")
    top = Circuit(uuid4(), depot.id, "Top", None, 0, T)
    await _committed(deps, depot, top)
    await _committed(deps, empty)
    async with deps.uow(write=False) as uow:
        assert await uow.circuits.for_depots([depot.id, empty.id]) == {depot.id: [top]}
        assert await uow.circuits.top_level_for_depots([empty.id]) == {}
        assert await uow.equipment.devices([depot.id, empty.id]) == {}
