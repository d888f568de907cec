"""Provisioning and the microgrid over HTTP through the real ASGI app."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select, update

from persistence import tables as t
from tests.api.helpers import grid, new_circuit, new_depot

UNKNOWN = "7d3c5f0e-0000-4000-8000-000000000000"


async def _microgrid_rows(container) -> int:
    async with container.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(t.microgrids))).scalar_one()


async def test_creating_a_depot_provisions_its_microgrid(admin):
    created = await new_depot(admin, "North", "Feeder A", "Feeder B")

    assert created["provisioning"] == {
        "provisioned": True,
        "code": "PROVISIONED",
        "message": created["provisioning"]["message"],
    }
    microgrid = created["microgrid"]
    assert microgrid["id"] != created["depot"]["id"]
    assert microgrid["depotId"] == created["depot"]["id"]
    assert grid(microgrid) == [("Feeder A", 0), ("Feeder B", 1)]
    assert {g["nodeType"] for g in microgrid["gridConnections"]} == {"GRID_CONNECTION"}
    assert microgrid["version"] == 1 and microgrid["drift"]["inSync"]

    by_depot = await admin.op("MicrogridByDepot", depotId=created["depot"]["id"])
    by_id = await admin.op("Microgrid", id=microgrid["id"])
    assert by_depot["id"] == by_id["id"] == microgrid["id"]
    assert by_id["depot"]["name"] == "North"


async def test_a_depot_without_top_level_circuits_has_no_microgrid(admin, container):
    created = await new_depot(admin, "Empty")

    assert created["microgrid"] is None
    assert created["provisioning"]["code"] == "NO_TOP_LEVEL_CIRCUITS"
    assert await _microgrid_rows(container) == 0
    lookup = await admin.op("MicrogridByDepot", depotId=created["depot"]["id"])
    assert (lookup["__typename"], lookup["code"]) == ("NotFound", "MICROGRID_NOT_FOUND")
    resync = await admin.op("ResyncMicrogrid", depotId=created["depot"]["id"])
    assert (resync["__typename"], resync["code"]) == ("ProvisioningFailed", "NO_TOP_LEVEL_CIRCUITS")
    assert await _microgrid_rows(container) == 0


async def test_circuit_changes_keep_grid_connections_in_step(admin):
    created = await new_depot(admin, "D")
    depot_id = created["depot"]["id"]

    first = await new_circuit(admin, depot_id, "A")
    assert first["microgridSync"]["provisioning"]["code"] == "PROVISIONED"
    b = await new_circuit(admin, depot_id, "B")
    assert (b["microgridSync"]["changed"], b["microgridSync"]["version"]) == (True, 2)
    a_id, b_id = first["circuit"]["id"], b["circuit"]["id"]

    renamed = await admin.op("UpdateCircuit", input={"id": a_id, "name": "A2"})
    assert (renamed["microgridSync"]["changed"], renamed["microgridSync"]["version"]) == (True, 2)

    below = await admin.op("UpdateCircuit", input={"id": b_id, "parentId": a_id})
    assert below["circuit"]["isTopLevel"] is False
    assert below["microgridSync"]["version"] == 3

    back = await admin.op("UpdateCircuit", input={"id": b_id, "parentId": None, "position": 0})
    assert back["circuit"]["isTopLevel"] is True
    microgrid = await admin.op("MicrogridByDepot", depotId=depot_id)
    # both at position 0: the older circuit (A) comes first
    assert grid(microgrid) == [("A2", 0), ("B", 1)] and microgrid["version"] == 4

    untouched = await admin.op("UpdateCircuit", input={"id": b_id, "safeCapacityW": 120000})
    assert untouched["circuit"]["safeCapacityW"] == 120000
    assert untouched["microgridSync"] == {
        **untouched["microgridSync"],
        "changed": False,
        "version": 4,
    }

    deleted = await admin.op("DeleteCircuit", id=b_id)
    assert deleted["deletedId"] == b_id and deleted["microgridSync"]["version"] == 5
    last = await admin.op("DeleteCircuit", id=a_id)
    assert (last["__typename"], last["code"]) == ("Conflict", "LAST_GRID_CONNECTION")


async def test_update_distinguishes_omitted_from_null(admin):
    created = await new_depot(admin, "D", "Top")
    top = created["microgrid"]["gridConnections"][0]["circuitId"]
    child = await new_circuit(admin, created["depot"]["id"], "c", parentId=top, safeCapacityW=10.0)
    cid = child["circuit"]["id"]

    renamed = await admin.op("UpdateCircuit", input={"id": cid, "name": "c2"})
    assert (renamed["circuit"]["parentId"], renamed["circuit"]["safeCapacityW"]) == (top, 10.0)
    cleared = await admin.op("UpdateCircuit", input={"id": cid, "safeCapacityW": None})
    assert cleared["circuit"]["safeCapacityW"] is None and cleared["circuit"]["parentId"] == top


async def test_topology_lists_structure_from_grid_connections_down(admin):
    created = await new_depot(admin, "D", "Main")
    depot_id = created["depot"]["id"]
    main = created["microgrid"]["gridConnections"][0]["circuitId"]
    bank = await new_circuit(admin, depot_id, "Bank", parentId=main)
    bess = await admin.op(
        "CreatePowerSource",
        input={"depotId": depot_id, "kind": "BATTERY", "name": "BESS", "circuitId": main},
    )
    gateway = await admin.op("CreateGateway", input={"depotId": depot_id, "name": "gw"})
    meter = await admin.op(
        "CreateDevice",
        input={
            "depotId": depot_id,
            "name": "Meter",
            "circuitId": bank["circuit"]["id"],
            "gatewayId": gateway["id"],
        },
    )

    microgrid = await admin.op("Microgrid", id=created["microgrid"]["id"])

    assert [(n["kind"], n["name"], n["depth"], n["parentId"]) for n in microgrid["topology"]] == [
        ("CIRCUIT", "Main", 0, None),
        ("POWER_SOURCE", "BESS", 1, main),
        ("CIRCUIT", "Bank", 1, main),
        ("DEVICE", "Meter", 2, bank["circuit"]["id"]),
    ]
    gc_id = microgrid["gridConnections"][0]["id"]
    assert {n["gridConnectionId"] for n in microgrid["topology"]} == {gc_id}
    assert microgrid["version"] == 1, "structure below a grid connection is not persisted"
    assert meter["gatewayId"] == gateway["id"] and bess["kind"] == "BATTERY"


async def test_drift_after_an_out_of_band_edit_and_resync(admin, container):
    created = await new_depot(admin, "D", "A", "B")
    depot_id = created["depot"]["id"]
    a, b = (g["circuitId"] for g in created["microgrid"]["gridConnections"])
    async with container.engine.begin() as conn:
        await conn.execute(update(t.circuits).where(t.circuits.c.id == UUID(a)).values(name="A*"))
        await conn.execute(update(t.circuits).where(t.circuits.c.id == UUID(b)).values(position=-1))

    microgrid = await admin.op("Microgrid", id=created["microgrid"]["id"])
    drift = microgrid["drift"]
    assert drift == {"inSync": False, "added": [], "removed": [], "renamed": [a], "reordered": True}

    dry = await admin.op("ResyncMicrogrid", depotId=depot_id, dryRun=True)
    assert dry["dryRun"] and not dry["changed"] and dry["plan"] == drift
    assert (await admin.op("Microgrid", id=created["microgrid"]["id"]))["drift"] == drift

    applied = await admin.op("ResyncMicrogrid", depotId=depot_id)
    assert applied["changed"] and applied["previousVersion"] == 1
    assert applied["microgrid"]["version"] == 2
    assert grid(applied["microgrid"]) == [("B", 0), ("A*", 1)]
    assert applied["microgrid"]["drift"]["inSync"]

    again = await admin.op("ResyncMicrogrid", depotId=depot_id)
    assert (again["changed"], again["microgrid"]["version"]) == (False, 2)


async def test_a_circuit_removed_out_of_band_shows_as_drift_with_a_null_circuit(admin, container):
    created = await new_depot(admin, "D", "A", "B")
    b = created["microgrid"]["gridConnections"][1]["circuitId"]
    async with container.engine.begin() as conn:
        await conn.execute(t.circuits.delete().where(t.circuits.c.id == UUID(b)))

    microgrid = await admin.op("Microgrid", id=created["microgrid"]["id"])

    assert microgrid["drift"]["removed"] == [b]
    assert microgrid["gridConnections"][1]["circuit"] is None


async def test_backfill_mutation_provisions_and_reruns_safely(admin, container):
    created = await new_depot(admin, "Has microgrid", "A")
    empty = await new_depot(admin, "Empty")
    async with container.engine.begin() as conn:  # an import that bypassed the service
        await conn.execute(t.microgrid_nodes.delete())
        await conn.execute(t.microgrids.delete())
    await new_circuit(admin, empty["depot"]["id"], "later")  # provisions through the API
    async with container.engine.begin() as conn:
        await conn.execute(t.microgrid_nodes.delete())
        await conn.execute(t.microgrids.delete())

    dry = await admin.op("BackfillMicrogrids", dryRun=True)
    assert (dry["created"], dry["alreadyProvisioned"], dry["skippedNoTopLevelCircuits"]) == (
        2,
        0,
        0,
    )
    assert await _microgrid_rows(container) == 0

    first = await admin.op("BackfillMicrogrids")
    assert first["created"] == 2 and len(first["createdMicrogridIds"]) == 2
    again = await admin.op("BackfillMicrogrids")
    assert (again["created"], again["alreadyProvisioned"]) == (0, 2)
    microgrid = await admin.op("MicrogridByDepot", depotId=created["depot"]["id"])
    assert microgrid["id"] in first["createdMicrogridIds"] and grid(microgrid) == [("A", 0)]


async def test_depots_paginate_with_cursors(admin):
    for name in ("c", "a", "b"):
        await new_depot(admin, name)
    page = await admin.op("Depots", first=2)
    assert [e["node"]["name"] for e in page["edges"]] == ["a", "b"]
    assert page["pageInfo"]["hasNextPage"]
    rest = await admin.op("Depots", first=2, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["name"] for e in rest["edges"]] == ["c"]
    assert not rest["pageInfo"]["hasNextPage"]
    capped = await admin.op("Depots", first=10_000)
    assert len(capped["edges"]) == 3


async def test_depot_lists_its_circuits_in_tree_order(admin):
    created = await new_depot(admin, "D", "A", "B")
    depot_id = created["depot"]["id"]
    a = created["microgrid"]["gridConnections"][0]["circuitId"]
    await new_circuit(admin, depot_id, "A.2", parentId=a, position=2)
    await new_circuit(admin, depot_id, "A.1", parentId=a, position=1)
    depot = await admin.op("Depot", id=depot_id)
    assert [c["name"] for c in depot["circuits"]] == ["A", "A.1", "A.2", "B"]
    assert [c["name"] for c in depot["circuits"][0]["children"]] == ["A.1", "A.2"]
    assert depot["microgrid"]["version"] == 1
