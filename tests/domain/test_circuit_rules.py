"""DESIGN §2 "Depots and circuits", through the use cases with in-memory fakes."""

from __future__ import annotations

from uuid import uuid4

from domain.access import EVERYWHERE, Scope
from domain.circuits import (
    CircuitChanged,
    CircuitDeleted,
    CircuitPatch,
    NewCircuitCommand,
    create_circuit,
    delete_circuit,
    update_circuit,
)
from domain.depots import DepotCreated, NewCircuit, create_depot
from domain.problems import Conflict, NotFound, ValidationFailed
from tests.support.fakes import Store, fake_dependencies


async def _depot(deps, *names: str):
    created = await create_depot(deps, EVERYWHERE, "Depot", [NewCircuit(n) for n in names])
    assert isinstance(created, DepotCreated)
    return created


async def _child(deps, depot_id, name, parent_id=None, position=None):
    result = await create_circuit(
        deps,
        EVERYWHERE,
        NewCircuitCommand(depot_id=depot_id, name=name, parent_id=parent_id, position=position),
    )
    assert isinstance(result, CircuitChanged), result
    return result.circuit


def _codes(problem: ValidationFailed) -> set[tuple[str, str]]:
    return {(e.field, e.code) for e in problem.field_errors}


async def test_a_parent_in_another_depot_is_a_validation_failure():
    store = Store()
    deps = fake_dependencies(store)
    a, b = await _depot(deps, "A1"), await _depot(deps, "B1")
    foreign_parent = b.sync.microgrid.grid_connections[0].circuit_id
    before = dict(store.circuits)

    result = await create_circuit(
        deps, EVERYWHERE, NewCircuitCommand(depot_id=a.depot.id, name="x", parent_id=foreign_parent)
    )

    assert isinstance(result, ValidationFailed)
    assert _codes(result) == {("input.parentId", "PARENT_NOT_IN_DEPOT")}
    assert store.circuits == before


async def test_reparenting_below_a_descendant_is_a_cycle_and_changes_nothing():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps, "Top")
    top = depot.sync.microgrid.grid_connections[0].circuit_id
    child = await _child(deps, depot.depot.id, "child", top)
    grandchild = await _child(deps, depot.depot.id, "grandchild", child.id)
    before = dict(store.circuits)

    for new_parent in (grandchild.id, child.id):
        result = await update_circuit(
            deps, EVERYWHERE, CircuitPatch(child.id, parent_id=new_parent)
        )
        assert isinstance(result, ValidationFailed)
        assert _codes(result) == {("input.parentId", "CYCLE")}
    assert store.circuits == before


async def test_reparenting_across_depots_is_a_validation_failure():
    deps = fake_dependencies()
    a, b = await _depot(deps, "A1"), await _depot(deps, "B1")
    child = await _child(deps, a.depot.id, "child", a.sync.microgrid.grid_connections[0].circuit_id)

    result = await update_circuit(
        deps,
        EVERYWHERE,
        CircuitPatch(child.id, parent_id=b.sync.microgrid.grid_connections[0].circuit_id),
    )

    assert isinstance(result, ValidationFailed)
    assert _codes(result) == {("input.parentId", "PARENT_NOT_IN_DEPOT")}


async def test_deleting_a_circuit_with_children_is_a_conflict():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps, "Top", "Other")
    top = depot.sync.microgrid.grid_connections[0].circuit_id
    await _child(deps, depot.depot.id, "child", top)

    result = await delete_circuit(deps, EVERYWHERE, top)

    assert result == Conflict("CIRCUIT_HAS_CHILDREN", result.message)
    assert top in store.circuits


async def test_names_are_required_and_bounded():
    deps = fake_dependencies()
    depot = await _depot(deps, "Top")
    for name, code in (("", "REQUIRED"), ("   ", "REQUIRED"), ("x" * 500, "TOO_LONG")):
        result = await create_circuit(
            deps, EVERYWHERE, NewCircuitCommand(depot_id=depot.depot.id, name=name)
        )
        assert isinstance(result, ValidationFailed)
        assert _codes(result) == {("input.name", code)}
    rename = await update_circuit(
        deps,
        EVERYWHERE,
        CircuitPatch(depot.sync.microgrid.grid_connections[0].circuit_id, name=None),
    )
    assert isinstance(rename, ValidationFailed)
    assert _codes(rename) == {("input.name", "REQUIRED")}


async def test_every_invalid_field_is_reported_at_once():
    deps = fake_dependencies()
    depot = await _depot(deps, "Top")
    result = await create_circuit(
        deps,
        EVERYWHERE,
        NewCircuitCommand(
            depot_id=depot.depot.id, name="", safe_capacity_w=-1.0, position=-3, parent_id=uuid4()
        ),
    )
    assert isinstance(result, ValidationFailed)
    assert {f for f, _ in _codes(result)} == {
        "input.name",
        "input.safeCapacityW",
        "input.parentId",
        "input.position",
    }


async def test_unknown_and_out_of_scope_ids_are_not_found_alike():
    deps = fake_dependencies()
    depot = await _depot(deps, "Top")
    circuit_id = depot.sync.microgrid.grid_connections[0].circuit_id
    elsewhere = Scope(frozenset({uuid4()}))

    missing = await delete_circuit(deps, EVERYWHERE, uuid4())
    hidden = await delete_circuit(deps, elsewhere, circuit_id)
    assert isinstance(missing, NotFound) and isinstance(hidden, NotFound)
    assert (missing.code, hidden.code) == ("CIRCUIT_NOT_FOUND", "CIRCUIT_NOT_FOUND")

    no_depot = await create_circuit(
        deps, elsewhere, NewCircuitCommand(depot_id=depot.depot.id, name="x")
    )
    assert isinstance(no_depot, NotFound) and no_depot.code == "DEPOT_NOT_FOUND"


async def test_a_new_circuit_without_position_goes_last_among_its_siblings():
    deps = fake_dependencies()
    depot = await _depot(deps, "A", "B")
    c = await _child(deps, depot.depot.id, "C")
    assert c.position == 2


async def test_deleting_a_leaf_circuit_removes_it():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps, "Top")
    leaf = await _child(
        deps, depot.depot.id, "leaf", depot.sync.microgrid.grid_connections[0].circuit_id
    )
    result = await delete_circuit(deps, EVERYWHERE, leaf.id)
    assert isinstance(result, CircuitDeleted)
    assert leaf.id not in store.circuits
    assert result.sync.changed is False
