"""DESIGN §2 "One canonical microgrid per depot", through the use cases with fakes."""

from __future__ import annotations

from uuid import uuid4

from domain.access import EVERYWHERE, Scope
from domain.backfill import backfill
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
from domain.model import Circuit, Depot
from domain.problems import Conflict, NotFound, ProvisioningFailed
from domain.resync import Resynced, resync_microgrid
from tests.support.clock import FakeClock
from tests.support.fakes import Store, fake_dependencies


def _nodes(store: Store, depot_id):
    (microgrid,) = [m for m in store.microgrids.values() if m.depot_id == depot_id]
    return [
        (n.name, n.position) for n in sorted(microgrid.grid_connections, key=lambda n: n.position)
    ], microgrid.version


async def _depot(deps, *names):
    created = await create_depot(deps, EVERYWHERE, "Depot", [NewCircuit(n) for n in names])
    assert isinstance(created, DepotCreated)
    return created


async def test_creating_a_depot_with_top_level_circuits_provisions_it_in_the_same_commit():
    store = Store()
    deps = fake_dependencies(store)
    created = await _depot(deps, "North", "South")

    assert store.commits == 1
    assert created.sync.outcome.code.value == "PROVISIONED"
    assert _nodes(store, created.depot.id) == ([("North", 0), ("South", 1)], 1)
    assert created.sync.microgrid.id != created.depot.id


async def test_a_depot_without_top_level_circuits_has_no_microgrid():
    store = Store()
    deps = fake_dependencies(store)
    created = await _depot(deps)

    assert created.sync.microgrid is None
    assert created.sync.outcome.code.value == "NO_TOP_LEVEL_CIRCUITS"
    assert not created.sync.outcome.provisioned
    assert store.microgrids == {}

    resync = await resync_microgrid(deps, EVERYWHERE, created.depot.id, dry_run=False)
    assert isinstance(resync, ProvisioningFailed) and resync.code == "NO_TOP_LEVEL_CIRCUITS"
    assert store.microgrids == {}


async def test_the_first_top_level_circuit_provisions_the_depot():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps)

    result = await create_circuit(deps, EVERYWHERE, NewCircuitCommand(depot.depot.id, "Feeder"))

    assert isinstance(result, CircuitChanged)
    assert result.sync.outcome.code.value == "PROVISIONED"
    assert _nodes(store, depot.depot.id) == ([("Feeder", 0)], 1)


async def test_grid_connections_follow_top_level_circuits_and_version_counts_set_or_order_changes():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps, "A", "B")
    a, b = (n.circuit_id for n in depot.sync.microgrid.grid_connections)

    added = await create_circuit(deps, EVERYWHERE, NewCircuitCommand(depot.depot.id, "C"))
    assert _nodes(store, depot.depot.id) == ([("A", 0), ("B", 1), ("C", 2)], 2)
    assert added.sync.changed and added.sync.microgrid.version == 2

    renamed = await update_circuit(deps, EVERYWHERE, CircuitPatch(a, name="A renamed"))
    assert _nodes(store, depot.depot.id) == ([("A renamed", 0), ("B", 1), ("C", 2)], 2)
    assert renamed.sync.changed and renamed.sync.microgrid.version == 2

    reordered = await update_circuit(deps, EVERYWHERE, CircuitPatch(a, position=9))
    assert _nodes(store, depot.depot.id) == ([("B", 0), ("C", 1), ("A renamed", 2)], 3)
    assert reordered.sync.microgrid.version == 3

    moved_below = await update_circuit(deps, EVERYWHERE, CircuitPatch(b, parent_id=a))
    assert _nodes(store, depot.depot.id) == ([("C", 0), ("A renamed", 1)], 4)
    assert moved_below.sync.changed

    back_to_top = await update_circuit(
        deps, EVERYWHERE, CircuitPatch(b, parent_id=None, position=0)
    )
    assert _nodes(store, depot.depot.id) == ([("B", 0), ("C", 1), ("A renamed", 2)], 5)
    assert back_to_top.sync.changed

    removed = await delete_circuit(deps, EVERYWHERE, added.circuit.id)
    assert isinstance(removed, CircuitDeleted)
    assert _nodes(store, depot.depot.id) == ([("B", 0), ("A renamed", 1)], 6)


async def test_changes_below_grid_connections_do_not_touch_the_microgrid():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps, "A")
    top = depot.sync.microgrid.grid_connections[0].circuit_id
    before = _nodes(store, depot.depot.id)

    child = await create_circuit(deps, EVERYWHERE, NewCircuitCommand(depot.depot.id, "c", top))
    await update_circuit(
        deps, EVERYWHERE, CircuitPatch(child.circuit.id, name="c2", safe_capacity_w=5.0)
    )

    assert not child.sync.changed
    assert _nodes(store, depot.depot.id) == before


async def test_a_capacity_change_of_a_top_level_circuit_is_not_a_microgrid_change():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps, "A")
    top = depot.sync.microgrid.grid_connections[0].circuit_id
    result = await update_circuit(deps, EVERYWHERE, CircuitPatch(top, safe_capacity_w=1000.0))
    assert not result.sync.changed and result.sync.microgrid.version == 1


async def test_removing_the_last_top_level_circuit_of_a_provisioned_depot_is_a_conflict():
    store = Store()
    deps = fake_dependencies(store)
    depot = await _depot(deps, "Only")
    only = depot.sync.microgrid.grid_connections[0].circuit_id

    result = await delete_circuit(deps, EVERYWHERE, only)

    assert isinstance(result, Conflict) and result.code == "LAST_GRID_CONNECTION"
    assert only in store.circuits
    assert _nodes(store, depot.depot.id) == ([("Only", 0)], 1)


async def test_resync_repairs_drift_and_is_idempotent():
    store = Store()
    clock = FakeClock()
    deps = fake_dependencies(store, clock)
    depot = await _depot(deps, "A", "B")
    a = depot.sync.microgrid.grid_connections[0].circuit_id
    # out-of-band edits, as an import or a direct database edit would make
    store.circuits[a].name = "A (imported)"
    outsider = Circuit(
        id=uuid4(),
        depot_id=depot.depot.id,
        name="Z",
        parent_id=None,
        position=-1,
        created_at=clock.now(),
    )
    store.circuits[outsider.id] = outsider

    dry = await resync_microgrid(deps, EVERYWHERE, depot.depot.id, dry_run=True)
    assert isinstance(dry, Resynced) and dry.dry_run and not dry.changed
    assert (dry.plan.added, dry.plan.renamed, dry.plan.reordered) == ((outsider.id,), (a,), False)
    assert _nodes(store, depot.depot.id) == ([("A", 0), ("B", 1)], 1)

    applied = await resync_microgrid(deps, EVERYWHERE, depot.depot.id, dry_run=False)
    assert applied.changed and applied.previous_version == 1 and applied.plan == dry.plan
    assert _nodes(store, depot.depot.id) == ([("Z", 0), ("A (imported)", 1), ("B", 2)], 2)

    again = await resync_microgrid(deps, EVERYWHERE, depot.depot.id, dry_run=False)
    assert not again.changed and again.plan.in_sync and again.microgrid.version == 2


async def test_resync_provisions_an_unprovisioned_depot_and_dry_run_only_says_so():
    store = Store()
    clock = FakeClock()
    deps = fake_dependencies(store, clock)
    depot = Depot(id=uuid4(), name="Imported", created_at=clock.now())
    store.depots[depot.id] = depot
    top = Circuit(
        id=uuid4(), depot_id=depot.id, name="T", parent_id=None, position=0, created_at=clock.now()
    )
    store.circuits[top.id] = top

    dry = await resync_microgrid(deps, EVERYWHERE, depot.id, dry_run=True)
    assert isinstance(dry, ProvisioningFailed) and dry.code == "NOT_PROVISIONED"
    assert store.microgrids == {}

    applied = await resync_microgrid(deps, EVERYWHERE, depot.id, dry_run=False)
    assert isinstance(applied, Resynced) and applied.changed
    assert applied.plan.added == (top.id,)
    assert _nodes(store, depot.id) == ([("T", 0)], 1)


async def test_resync_of_unknown_or_hidden_depot_is_not_found():
    deps = fake_dependencies()
    depot = await _depot(deps, "A")
    for scope, depot_id in ((EVERYWHERE, uuid4()), (Scope(frozenset()), depot.depot.id)):
        result = await resync_microgrid(deps, scope, depot_id, dry_run=False)
        assert isinstance(result, NotFound) and result.code == "DEPOT_NOT_FOUND"


async def test_backfill_provisions_each_eligible_depot_once_and_is_safe_to_rerun():
    store = Store()
    clock = FakeClock()
    deps = fake_dependencies(store, clock)
    eligible = []
    for i in range(7):
        depot = Depot(id=uuid4(), name=f"d{i}", created_at=clock.now())
        store.depots[depot.id] = depot
        if i % 3:
            eligible.append(depot.id)
            for j in range(2):
                c = Circuit(
                    id=uuid4(),
                    depot_id=depot.id,
                    name=f"c{j}",
                    parent_id=None,
                    position=j,
                    created_at=clock.now(),
                )
                store.circuits[c.id] = c
    provisioned = await _depot(deps, "already")

    progress: list[tuple[int, int]] = []
    dry = await backfill(
        deps,
        EVERYWHERE,
        dry_run=True,
        batch_size=3,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert (dry.created, dry.already_provisioned, dry.skipped_no_top_level_circuits) == (4, 1, 3)
    assert len(store.microgrids) == 1
    assert progress[-1] == (8, 8) and len(progress) == 3

    first = await backfill(deps, EVERYWHERE, batch_size=3)
    assert (first.created, first.already_provisioned, first.skipped_no_top_level_circuits) == (
        4,
        1,
        3,
    )
    assert {m.depot_id for m in store.microgrids.values()} == {*eligible, provisioned.depot.id}
    assert set(first.created_microgrid_ids) == set(store.microgrids) - {
        provisioned.sync.microgrid.id
    }

    second = await backfill(deps, EVERYWHERE, batch_size=3)
    assert (second.created, second.already_provisioned, second.skipped_no_top_level_circuits) == (
        0,
        5,
        3,
    )

    store.microgrids.clear()
    counted_only = await backfill(deps, EVERYWHERE, batch_size=3, keep_ids=False)
    assert counted_only.created == 5 and counted_only.created_microgrid_ids == []


async def test_backfill_records_what_it_created_in_the_audit_trail():
    store = Store()
    clock = FakeClock()
    deps = fake_dependencies(store, clock)
    depot = Depot(id=uuid4(), name="imported", created_at=clock.now())
    store.depots[depot.id] = depot
    top = Circuit(
        id=uuid4(), depot_id=depot.id, name="T", parent_id=None, position=0, created_at=clock.now()
    )
    store.circuits[top.id] = top

    await backfill(deps, EVERYWHERE)
    await backfill(deps, EVERYWHERE)

    entries = [e for e in store.audit if e.action == "backfillMicrogrids"]
    assert len(entries) == 1, "a run that changes nothing records nothing"
    assert entries[0].detail == {"created": 1, "depots": [str(depot.id)]}
