"""Every accepted configuration change is in an append-only audit trail, with
the acting token, readable by admins (scoped admins: their depots only)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from domain.access import Role
from persistence import tables as t
from tests.api.helpers import new_circuit, new_depot

TRAIL = """query ($after: String) { auditTrail(first: 100, after: $after) {
  edges { node { at tokenId action subjectId depotId detail } }
  pageInfo { hasNextPage endCursor } } }"""


async def test_changes_are_recorded_with_the_acting_token(admin, container, scoped_client, clock):
    depot = await new_depot(admin, "Audited", "Feeder")
    depot_id = depot["depot"]["id"]
    circuit = await new_circuit(admin, depot_id, "Second")
    await admin.op("UpdateCircuit", input={"id": circuit["circuit"]["id"], "name": "2nd"})
    await admin.op("CreateDevice", input={"depotId": depot_id, "name": "meter"})
    refused = await admin.op("CreateCircuit", input={"depotId": depot_id, "name": ""})
    assert refused["__typename"] == "ValidationFailed"
    await admin.op("DeleteCircuit", id=circuit["circuit"]["id"])

    trail = (await admin.execute(TRAIL))["auditTrail"]["edges"]
    actions = [e["node"]["action"] for e in trail]
    assert actions == [
        "deleteCircuit",
        "createDevice",
        "updateCircuit",
        "createCircuit",
        "createDepot",
    ], "newest first; the refused change is not recorded"
    async with container.engine.connect() as conn:
        admin_token_id = (
            (await conn.execute(select(t.api_tokens.c.id).where(t.api_tokens.c.role == "admin")))
            .scalars()
            .first()
        )
    assert {e["node"]["tokenId"] for e in trail} == {str(admin_token_id)}
    assert {e["node"]["depotId"] for e in trail} == {depot_id}
    assert trail[2]["node"]["detail"]["name"] == "2nd"

    other = await new_depot(admin, "Elsewhere", "F")
    scoped = await scoped_client(Role.ADMIN, other["depot"]["id"])
    mine = (await scoped.execute(TRAIL))["auditTrail"]["edges"]
    assert [e["node"]["action"] for e in mine] == ["createDepot"]


async def test_bindings_resync_and_backfill_are_recorded(admin, container):
    depot = await new_depot(admin, "D", "F")
    microgrid_id = depot["microgrid"]["id"]
    device = (
        await admin.op("CreateDevice", input={"depotId": depot["depot"]["id"], "name": "ctl"})
    )["id"]
    binding = (
        await admin.execute(
            """mutation ($i: CreateControllerBindingInput!) {
        createControllerBinding(input: $i) { ... on ControllerBinding { id } } }""",
            {"i": {"microgridId": microgrid_id, "deviceId": device, "capabilities": ["DER"]}},
        )
    )["createControllerBinding"]["id"]
    await admin.execute(
        "mutation ($id: ID!) { disableControllerBinding(id: $id) { __typename } }", {"id": binding}
    )
    await admin.execute(
        """mutation ($d: ID!) { configureSensorAction(input: {deviceId: $d,
        type: UPDATE_CIRCUIT_CAPACITY}) { __typename } }""",
        {"d": device},
    )
    async with container.engine.begin() as conn:
        await conn.execute(update(t.circuits).values(name="renamed in SQL"))
    await admin.op("ResyncMicrogrid", depotId=depot["depot"]["id"])
    trail = (await admin.execute(TRAIL))["auditTrail"]["edges"]
    assert [e["node"]["action"] for e in trail][:4] == [
        "resyncMicrogrid",
        "configureSensorAction",
        "disableControllerBinding",
        "createControllerBinding",
    ]
    assert trail[0]["node"]["detail"]["renamed"] == 1


async def test_the_audit_log_is_append_only(admin, container):
    await new_depot(admin, "D", "F")
    for statement in (update(t.audit_log).values(action="tampered"), delete(t.audit_log)):
        with pytest.raises(DBAPIError, match="append-only"):
            async with container.engine.begin() as conn:
                await conn.execute(statement)
    async with container.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(t.audit_log))).scalar_one() == 1
