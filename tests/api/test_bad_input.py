"""Bad input gets a typed Problem and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from persistence import tables as t
from tests.api.helpers import new_circuit, new_depot

UNKNOWN = "7d3c5f0e-0000-4000-8000-000000000000"


async def _counts(container) -> tuple[int, ...]:
    async with container.engine.connect() as conn:
        return tuple(
            [
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (t.depots, t.circuits, t.microgrids, t.microgrid_nodes)
            ]
        )


@pytest.mark.parametrize("name, code", [("", "REQUIRED"), ("x" * 500, "TOO_LONG")])
async def test_bad_names_are_validation_failures(admin, container, name, code):
    created = await new_depot(admin, "D", "Top")
    before = await _counts(container)

    depot = await admin.op("CreateDepot", input={"name": name})
    circuit = await admin.op(
        "CreateCircuit", input={"depotId": created["depot"]["id"], "name": name}
    )
    nested = await admin.op(
        "CreateDepot", input={"name": "ok", "topLevelCircuits": [{"name": name}]}
    )

    for result, field in (
        (depot, "input.name"),
        (circuit, "input.name"),
        (nested, "input.topLevelCircuits[0].name"),
    ):
        assert result["__typename"] == "ValidationFailed"
        assert [(e["field"], e["code"]) for e in result["fieldErrors"]] == [(field, code)]
    assert await _counts(container) == before


async def test_cycles_foreign_parents_and_unknown_ids(admin, container):
    a = await new_depot(admin, "A", "Top")
    b = await new_depot(admin, "B", "Other")
    top = a["microgrid"]["gridConnections"][0]["circuitId"]
    child = await new_circuit(admin, a["depot"]["id"], "child", parentId=top)
    before = await _counts(container)

    cycle = await admin.op("UpdateCircuit", input={"id": top, "parentId": child["circuit"]["id"]})
    foreign = await admin.op(
        "UpdateCircuit",
        input={
            "id": child["circuit"]["id"],
            "parentId": b["microgrid"]["gridConnections"][0]["circuitId"],
        },
    )
    bad_parent_id = await admin.op(
        "CreateCircuit", input={"depotId": a["depot"]["id"], "name": "x", "parentId": "not-a-uuid"}
    )
    unknown_circuit = await admin.op("UpdateCircuit", input={"id": UNKNOWN, "name": "x"})
    unknown_depot = await admin.op("CreateCircuit", input={"depotId": UNKNOWN, "name": "x"})
    malformed = await admin.op("DeleteCircuit", id="not-a-uuid")
    unknown_microgrid = await admin.op("Microgrid", id=UNKNOWN)
    unknown_by_depot = await admin.op("MicrogridByDepot", depotId=UNKNOWN)
    unknown_resync = await admin.op("ResyncMicrogrid", depotId=UNKNOWN)

    assert cycle["fieldErrors"][0]["code"] == "CYCLE"
    assert foreign["fieldErrors"][0]["code"] == "PARENT_NOT_IN_DEPOT"
    assert bad_parent_id["fieldErrors"][0]["field"] == "input.parentId"
    assert [
        r["__typename"]
        for r in (
            unknown_circuit,
            unknown_depot,
            malformed,
            unknown_microgrid,
            unknown_by_depot,
            unknown_resync,
        )
    ] == ["NotFound"] * 6
    assert (unknown_circuit["resource"], unknown_circuit["notFoundId"]) == ("Circuit", UNKNOWN)
    assert unknown_microgrid["code"] == "MICROGRID_NOT_FOUND"
    assert unknown_by_depot["code"] == "DEPOT_NOT_FOUND"
    assert await _counts(container) == before


async def test_deleting_a_parent_or_the_last_grid_connection_is_a_conflict(admin, container):
    created = await new_depot(admin, "D", "Top")
    top = created["microgrid"]["gridConnections"][0]["circuitId"]
    await new_circuit(admin, created["depot"]["id"], "child", parentId=top)
    before = await _counts(container)

    has_children = await admin.op("DeleteCircuit", id=top)

    assert (has_children["__typename"], has_children["code"]) == (
        "Conflict",
        "CIRCUIT_HAS_CHILDREN",
    )
    assert await _counts(container) == before


async def test_deleting_a_circuit_with_equipment_is_a_conflict(admin, container):
    created = await new_depot(admin, "D", "Top", "Spare")
    spare = created["microgrid"]["gridConnections"][1]["circuitId"]
    await admin.op(
        "CreateDevice",
        input={"depotId": created["depot"]["id"], "name": "meter", "circuitId": spare},
    )
    before = await _counts(container)

    result = await admin.op("DeleteCircuit", id=spare)

    assert (result["__typename"], result["code"]) == ("Conflict", "CIRCUIT_HAS_EQUIPMENT")
    assert await _counts(container) == before


async def test_out_of_range_numbers_are_field_errors(admin):
    created = await new_depot(admin, "D", "Top")
    result = await admin.op(
        "CreateCircuit",
        input={"depotId": created["depot"]["id"], "name": "x", "safeCapacityW": -5, "position": -1},
    )
    assert {e["field"] for e in result["fieldErrors"]} == {"input.safeCapacityW", "input.position"}


async def test_malformed_graphql_gets_a_coded_error(admin):
    errors = await admin.errors("{ depots { edges { nope } } }")
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    wrong_type = await admin.errors("mutation { deleteCircuit(id: 5.5) { __typename } }")
    assert wrong_type[0]["extensions"]["status"] == 400


async def test_an_empty_packet_is_refused_with_field_paths(integration):
    result = await integration.execute(
        "mutation { ingestSensorPacket(packet: {}) { __typename"
        " ... on ValidationFailed { fieldErrors { field code } } } }"
    )
    errors = result["ingestSensorPacket"]["fieldErrors"]
    assert {"field": "packet.device_id", "code": "REQUIRED"} in errors
    assert {"field": "packet.timestamp", "code": "REQUIRED"} in errors


async def test_an_oversized_body_is_refused_before_parsing(admin, http):
    response = await http.post(
        "/graphql",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_deep_queries_are_refused(admin):
    deep = (
        "{ depots { edges { node { circuits { "
        + "children { " * 20
        + "id"
        + " }" * 20
        + " } } } } }"
    )
    errors = await admin.errors(deep)
    assert "exceeds maximum operation depth" in errors[0]["message"]
