"""The structure below grid connections is derived from the circuits at read time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.model import Circuit, Device, GridConnection, PowerSource, PowerSourceKind
from domain.topology import build

DEPOT, MICROGRID = UUID(int=100), UUID(int=200)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def circuit(n: int, parent: int | None = None, position: int = 0) -> Circuit:
    return Circuit(
        id=UUID(int=n),
        depot_id=DEPOT,
        name=f"c{n}",
        parent_id=UUID(int=parent) if parent else None,
        position=position,
        created_at=T0 + timedelta(seconds=n),
    )


def gc(n: int, position: int) -> GridConnection:
    return GridConnection(
        id=UUID(int=1000 + n),
        microgrid_id=MICROGRID,
        circuit_id=UUID(int=n),
        name=f"c{n}",
        position=position,
    )


def test_depth_first_from_each_grid_connection_with_equipment_under_its_circuit():
    circuits = [
        circuit(1),
        circuit(2, position=1),
        circuit(3, parent=1, position=1),
        circuit(4, parent=1, position=0),
        circuit(5, parent=4),
    ]
    battery = PowerSource(
        id=UUID(int=50),
        depot_id=DEPOT,
        kind=PowerSourceKind.BATTERY,
        name="bess",
        circuit_id=UUID(int=4),
        created_at=T0,
    )
    meter = Device(
        id=UUID(int=60),
        depot_id=DEPOT,
        name="meter",
        gateway_id=None,
        circuit_id=UUID(int=2),
        created_at=T0,
    )
    unwired = Device(
        id=UUID(int=61),
        depot_id=DEPOT,
        name="spare",
        gateway_id=None,
        circuit_id=None,
        created_at=T0,
    )

    nodes = build([gc(2, 1), gc(1, 0)], circuits, [battery], [meter, unwired])

    assert [
        (
            n.id.int,
            n.parent_id.int if n.parent_id else None,
            n.kind.value,
            n.depth,
            n.grid_connection_id.int,
        )
        for n in nodes
    ] == [
        (1, None, "CIRCUIT", 0, 1001),
        (4, 1, "CIRCUIT", 1, 1001),
        (50, 4, "POWER_SOURCE", 2, 1001),
        (5, 4, "CIRCUIT", 2, 1001),
        (3, 1, "CIRCUIT", 1, 1001),
        (2, None, "CIRCUIT", 0, 1002),
        (60, 2, "DEVICE", 1, 1002),
    ]


def test_a_grid_connection_whose_circuit_vanished_shows_alone_under_its_own_name():
    nodes = build([gc(7, 0)], [], [], [])
    assert [(n.name, n.depth) for n in nodes] == [("c7", 0)]


def test_top_level_circuits_without_a_grid_connection_are_not_in_the_topology():
    nodes = build([gc(1, 0)], [circuit(1), circuit(2)], [], [])
    assert [n.id.int for n in nodes] == [1]
