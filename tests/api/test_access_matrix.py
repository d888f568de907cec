"""Generated from domain.access.OPERATION_ROLES: every operation and every role,
plus a depot-scoped token, which must not learn that out-of-scope ids exist."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.access_matrix import render
from domain.access import OPERATION_ROLES, Role
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
    build_schema,
)
from schema.root import export_sdl
from tests.api.helpers import new_depot
from tests.support.live_server import live_server
from tests.support.ws import WsClient

SCHEMA = build_schema(export_sdl())
MISSING = "00000000-0000-4000-8000-000000000000"
SCALARS = {
    "ID": f'"{MISSING}"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.5",
    "Boolean": "true",
    "JSON": "{}",
    "DateTime": '"2026-01-01T00:00:00Z"',
}


def _literal(kind) -> str:
    if isinstance(kind, GraphQLNonNull):
        return _literal(kind.of_type)
    if isinstance(kind, GraphQLList):
        return "[]"
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLScalarType):
        return SCALARS[kind.name]
    assert isinstance(kind, GraphQLInputObjectType)
    fields = [
        f"{name}: {_literal(field.type)}"
        for name, field in kind.fields.items()
        if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
    ]
    return "{" + ", ".join(fields) + "}"


def document(operation: str, root: str, field: str) -> str:
    definition = getattr(SCHEMA, f"{root}_type").fields[field]
    args = [
        f"{name}: {_literal(arg.type)}"
        for name, arg in definition.args.items()
        if isinstance(arg.type, GraphQLNonNull)
    ]
    call = f"{field}({', '.join(args)})" if args else field
    return f"{operation} {{ {call} {{ __typename }} }}"


def operations(root: str) -> list[str]:
    return sorted(getattr(SCHEMA, f"{root}_type").fields)


def test_every_operation_of_the_schema_is_in_the_table_and_the_readme():
    names = {*operations("query"), *operations("mutation")}
    names |= {
        f"{n}.subscription" if n == "microgridCard" else n for n in operations("subscription")
    }
    assert names == set(OPERATION_ROLES)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert render() in readme, "README's access table is stale: paste app.access_matrix.render()"


HTTP_CASES = [
    (kind, field, role)
    for kind in ("query", "mutation")
    for field in operations(kind)
    for role in Role
]


@pytest.mark.parametrize(
    ("kind", "field", "role"), HTTP_CASES, ids=[f"{f}-{r.value}" for _k, f, r in HTTP_CASES]
)
async def test_each_operation_with_each_role(kind, field, role, http, container, clock):
    issued = await container.tokens.issue(role, (), clock.now())
    response = await http.post(
        "/graphql",
        json={"query": document(kind, kind, field)},
        headers={"Authorization": f"Bearer {issued.token}"},
    )
    assert response.status_code == 200
    errors = response.json().get("errors") or []
    forbidden = [e for e in errors if e["extensions"]["code"] == "FORBIDDEN"]
    if role in OPERATION_ROLES[field]:
        assert forbidden == [], errors
        assert all(e["extensions"]["code"] != "INTERNAL_SERVER_ERROR" for e in errors), errors
    else:
        assert len(forbidden) == 1 and forbidden[0]["path"] == [field]
        nullable = not isinstance(
            getattr(SCHEMA, f"{kind}_type").fields[field].type, GraphQLNonNull
        )
        assert response.json()["data"] == ({field: None} if nullable else None)


@pytest.mark.stores("sqlite")
async def test_each_subscription_with_each_role(container, clock, store):
    tokens = {role: (await container.tokens.issue(role, (), clock.now())).token for role in Role}
    async with live_server(container) as url:
        for field in operations("subscription"):
            key = "microgridCard.subscription" if field == "microgridCard" else field
            for role in Role:
                ws = await WsClient.connect(url, tokens[role])
                await ws.subscribe(document("subscription", "subscription", field))
                code = ws.errors(await ws.next())[0]["extensions"]["code"]
                await ws.close()
                assert code == ("NOT_FOUND" if role in OPERATION_ROLES[key] else "FORBIDDEN"), (
                    field,
                    role,
                )


async def _other_depot(admin, http, container, clock):
    """A fully equipped depot the scoped token must not see."""
    depot = await new_depot(admin, "Hidden", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    circuit = depot["microgrid"]["gridConnections"][0]["circuitId"]
    device = (
        await admin.execute(
            """mutation ($d: ID!, $c: ID!) { createDevice(input: {
        depotId: $d, name: "ctl", circuitId: $c}) { ... on Device { id } } }""",
            {"d": depot_id, "c": circuit},
        )
    )["createDevice"]["id"]
    binding = (
        await admin.execute(
            """mutation ($m: ID!, $d: ID!) { createControllerBinding(
        input: {microgridId: $m, deviceId: $d, capabilities: [DER]}) {
        ... on ControllerBinding { id } } }""",
            {"m": microgrid_id, "d": device},
        )
    )["createControllerBinding"]["id"]
    return {
        "depot": depot_id,
        "microgrid": microgrid_id,
        "circuit": circuit,
        "device": device,
        "binding": binding,
    }


SCOPED = [
    ("depot", "query ($x: ID!) { depot(id: $x) { id } }", "depot"),
    (
        "microgrid",
        "query ($x: ID!) { microgrid(id: $x) { __typename ... on NotFound { code "
        "message resource } } }",
        "microgrid",
    ),
    (
        "microgridByDepot",
        "query ($x: ID!) { microgridByDepot(depotId: $x) { __typename "
        "... on NotFound { code message } } }",
        "depot",
    ),
    (
        "microgridCard",
        "query ($x: ID!) { microgridCard(depotId: $x) { __typename "
        "... on NotFound { code message } } }",
        "depot",
    ),
    ("controllerBinding", "query ($x: ID!) { controllerBinding(id: $x) { id } }", "binding"),
    ("device", "query ($x: ID!) { device(id: $x) { id } }", "device"),
    (
        "sensorPackets",
        "query ($x: ID!) { sensorPackets(deviceId: $x) { edges { cursor } } }",
        "device",
    ),
    (
        "createCircuit",
        'mutation ($x: ID!) { createCircuit(input: {depotId: $x, name: "n"}) '
        "{ __typename ... on Problem { code message } } }",
        "depot",
    ),
    (
        "updateCircuit",
        'mutation ($x: ID!) { updateCircuit(input: {id: $x, name: "n"}) '
        "{ __typename ... on Problem { code message } } }",
        "circuit",
    ),
    (
        "deleteCircuit",
        "mutation ($x: ID!) { deleteCircuit(id: $x) { __typename "
        "... on Problem { code message } } }",
        "circuit",
    ),
    (
        "resyncMicrogrid",
        "mutation ($x: ID!) { resyncMicrogrid(depotId: $x) { __typename "
        "... on Problem { code message } } }",
        "depot",
    ),
    (
        "createDevice",
        'mutation ($x: ID!) { createDevice(input: {depotId: $x, name: "n"}) '
        "{ __typename ... on Problem { code message } } }",
        "depot",
    ),
    (
        "configureSensorAction",
        "mutation ($x: ID!) { configureSensorAction(input: {deviceId: $x,"
        " type: UPDATE_CIRCUIT_CAPACITY}) { __typename ... on Problem { code message } } }",
        "device",
    ),
    (
        "disableControllerBinding",
        "mutation ($x: ID!) { disableControllerBinding(id: $x) "
        "{ __typename ... on Problem { code message } } }",
        "binding",
    ),
    (
        "featureFlags",
        "query ($x: ID!) { featureFlags(depotId: $x) { key enabled source depotId } }",
        "depot",
    ),
    (
        "setFeatureFlag",
        'mutation ($x: ID!) { setFeatureFlag(input: {key: "new-microgrid-fields-load-chart",'
        " enabled: true, depotId: $x}) { __typename ... on Problem { code message } } }",
        "depot",
    ),
    (
        "recordCapabilityStatus",
        "mutation ($x: ID!) { recordCapabilityStatus(input: {"
        'microgridId: $x, capability: DER, value: true, observedAt: "2026-01-01T00:00:00Z", '
        'providerEventRef: "r"}) { __typename ... on Problem { code message } } }',
        "microgrid",
    ),
]


async def test_out_of_scope_ids_answer_exactly_like_missing_ones(
    admin, http, container, clock, scoped_client
):
    mine = await new_depot(admin, "Mine", "F")
    hidden = await _other_depot(admin, http, container, clock)
    scoped = await scoped_client(Role.ADMIN, mine["depot"]["id"])
    for name, query, kind in SCOPED:
        seen = await scoped.raw(query, {"x": hidden[kind]})
        missing = await scoped.raw(query, {"x": MISSING})
        assert seen.status_code == missing.status_code == 200
        assert json.loads(seen.text.replace(hidden[kind], MISSING)) == missing.json(), name
    packet = {
        "device_id": hidden["device"],
        "timestamp": int(datetime.now(UTC).timestamp() * 1000) - 1000,
        "manufacturer": None,
        "model": None,
        "serial_number": None,
        "sensors": [],
    }
    query = (
        "mutation ($p: JSON!) { ingestSensorPacket(packet: $p) { __typename "
        "... on NotFound { code message } } }"
    )
    seen = await scoped.raw(query, {"p": packet})
    missing = await scoped.raw(query, {"p": {**packet, "device_id": MISSING}})
    assert json.loads(seen.text.replace(hidden["device"], MISSING)) == missing.json()


@pytest.mark.stores("sqlite")
async def test_out_of_scope_subscriptions_answer_like_missing_ones(
    admin, http, container, clock, store
):
    mine = await new_depot(admin, "Mine", "F")
    hidden = await _other_depot(admin, http, container, clock)
    token = (await container.tokens.issue(Role.OPERATOR, (mine["depot"]["id"],), clock.now())).token
    cases = [
        ("subscription ($x: ID!) { microgridCard(depotId: $x) { reason } }", "depot"),
        ("subscription ($x: ID!) { capabilityStatusEvents(microgridId: $x) { id } }", "microgrid"),
        ("subscription ($x: ID!) { microgridTopology(microgridId: $x) { id } }", "microgrid"),
    ]
    async with live_server(container) as url:
        for query, kind in cases:
            answers = []
            for value in (hidden[kind], MISSING):
                ws = await WsClient.connect(url, token)
                await ws.subscribe(query, {"x": value})
                answers.append(json.dumps(ws.errors(await ws.next())).replace(value, MISSING))
                await ws.close()
            assert answers[0] == answers[1], query
