"""A depot-scoped token learns nothing about ids outside its depots (DESIGN §5).

Every id it sends, at the root of an operation or nested in an input, answers
exactly like an id that does not exist: the same body, and the same SQL
statements (the scope is part of the lookup, so "not yours" and "missing" both
fetch zero rows through one code path, and take the same work). A token that
does see the other depot still gets the precise answer (DEVICE_NOT_IN_DEPOT)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from domain.access import Role
from tests.api.helpers import new_depot
from tests.support.graphql import GraphQLClient

MISSING = "00000000-0000-4000-8000-000000000000"
PROBLEM = (
    "{ __typename ... on Problem { code message } ... on NotFound { resource id } "
    "... on ValidationFailed { fieldErrors { field code message } } }"
)


async def _equipped(admin: GraphQLClient, name: str) -> dict[str, str]:
    """A provisioned depot with a gateway, a device and a controller binding."""
    depot = await new_depot(admin, name, "Feeder")
    ids = {
        "depot": depot["depot"]["id"],
        "microgrid": depot["microgrid"]["id"],
        "circuit": depot["microgrid"]["gridConnections"][0]["circuitId"],
    }
    created = await admin.execute(
        """mutation ($d: ID!, $c: ID!) {
          g: createGateway(input: {depotId: $d, name: "gw"}) { ... on Gateway { id } }
          a: createDevice(input: {depotId: $d, name: "ctl", circuitId: $c}) { ... on Device { id } }
          b: createDevice(input: {depotId: $d, name: "spare"}) { ... on Device { id } }
        }""",
        {"d": ids["depot"], "c": ids["circuit"]},
    )
    ids |= {"gateway": created["g"]["id"], "device": created["a"]["id"]}
    ids["spare"] = created["b"]["id"]
    binding = await admin.execute(
        """mutation ($m: ID!, $d: ID!) { createControllerBinding(
          input: {microgridId: $m, deviceId: $d, capabilities: [DER]}) {
          ... on ControllerBinding { id } } }""",
        {"m": ids["microgrid"], "d": ids["device"]},
    )
    ids["binding"] = binding["createControllerBinding"]["id"]
    return ids


def _cases(mine: dict[str, str]) -> list[tuple[str, str, str]]:
    """(name, document using $x, which kind of hidden id $x stands for)."""
    m = mine
    return [
        (
            "microgrid",
            "query ($x: ID!) { microgrid(id: $x) { __typename ... on NotFound { code message } } }",
            "microgrid",
        ),
        ("device", "query ($x: ID!) { device(id: $x) { id } }", "device"),
        ("controllerBinding", "query ($x: ID!) { controllerBinding(id: $x) { id } }", "binding"),
        (
            "sensorPackets",
            "query ($x: ID!) { sensorPackets(deviceId: $x) { edges { cursor } } }",
            "device",
        ),
        (
            "createControllerBinding.deviceId",
            f"""mutation ($x: ID!) {{ createControllerBinding(input: {{
              microgridId: "{m["microgrid"]}", deviceId: $x, capabilities: [PEAK_SHAVING]}})
              {PROBLEM} }}""",
            "spare",
        ),
        (
            "createControllerBinding.microgridId",
            f"""mutation ($x: ID!) {{ createControllerBinding(input: {{
              microgridId: $x, deviceId: "{m["spare"]}", capabilities: [PEAK_SHAVING]}})
              {PROBLEM} }}""",
            "microgrid",
        ),
        (
            "updateControllerBinding.deviceId",
            f"""mutation ($x: ID!) {{ updateControllerBinding(input: {{
              id: "{m["binding"]}", deviceId: $x}}) {PROBLEM} }}""",
            "spare",
        ),
        (
            "updateControllerBinding.id",
            f"mutation ($x: ID!) {{ updateControllerBinding(input: {{id: $x}}) {PROBLEM} }}",
            "binding",
        ),
        (
            "enableControllerBinding",
            f"mutation ($x: ID!) {{ enableControllerBinding(id: $x) {PROBLEM} }}",
            "binding",
        ),
        (
            "configureSensorAction",
            f"""mutation ($x: ID!) {{ configureSensorAction(input: {{deviceId: $x,
              type: UPDATE_CIRCUIT_CAPACITY}}) {PROBLEM} }}""",
            "device",
        ),
        (
            "recordCapabilityStatus.sourceDeviceId",
            f"""mutation ($x: ID!) {{ recordCapabilityStatus(input: {{
              microgridId: "{m["microgrid"]}", capability: DER, value: true,
              observedAt: "2026-01-01T00:00:00Z", providerEventRef: "r1",
              sourceDeviceId: $x}}) {PROBLEM} }}""",
            "device",
        ),
        (
            "recordCapabilityStatus.microgridId",
            f"""mutation ($x: ID!) {{ recordCapabilityStatus(input: {{
              microgridId: $x, capability: DER, value: true,
              observedAt: "2026-01-01T00:00:00Z", providerEventRef: "r2"}}) {PROBLEM} }}""",
            "microgrid",
        ),
        (
            "createDevice.gatewayId",
            f"""mutation ($x: ID!) {{ createDevice(input: {{depotId: "{m["depot"]}",
              name: "n", gatewayId: $x}}) {PROBLEM} }}""",
            "gateway",
        ),
        (
            "createDevice.circuitId",
            f"""mutation ($x: ID!) {{ createDevice(input: {{depotId: "{m["depot"]}",
              name: "n", circuitId: $x}}) {PROBLEM} }}""",
            "circuit",
        ),
        (
            "createPowerSource.circuitId",
            f"""mutation ($x: ID!) {{ createPowerSource(input: {{depotId: "{m["depot"]}",
              kind: BATTERY, name: "n", circuitId: $x}}) {PROBLEM} }}""",
            "circuit",
        ),
        (
            "createCircuit.parentId",
            f"""mutation ($x: ID!) {{ createCircuit(input: {{depotId: "{m["depot"]}",
              name: "n", parentId: $x}}) {PROBLEM} }}""",
            "circuit",
        ),
        (
            "createCircuit.depotId",
            f'mutation ($x: ID!) {{ createCircuit(input: {{depotId: $x, name: "n"}}) {PROBLEM} }}',
            "depot",
        ),
        (
            "updateCircuit.parentId",
            f"""mutation ($x: ID!) {{ updateCircuit(input: {{id: "{m["circuit"]}",
              parentId: $x}}) {PROBLEM} }}""",
            "circuit",
        ),
        (
            "updateCircuit.id",
            f'mutation ($x: ID!) {{ updateCircuit(input: {{id: $x, name: "n"}}) {PROBLEM} }}',
            "circuit",
        ),
    ]


@contextmanager
def _recorded(container: Any) -> Iterator[list[str]]:
    """The text of every SQL statement sent meanwhile (values are bound, not in it)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = container.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _answer(client: GraphQLClient, container: Any, query: str, value: str) -> Any:
    with _recorded(container) as statements:
        response = await client.raw(query, {"x": value})
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    return json.loads(response.text.replace(value, MISSING)), statements


async def test_out_of_scope_ids_answer_and_work_exactly_like_missing_ones(
    admin, container, scoped_client
):
    mine = await _equipped(admin, "Mine")
    hidden = await _equipped(admin, "Hidden")
    scoped = await scoped_client(Role.ADMIN, mine["depot"])
    await scoped.execute("{ viewer { role } }")
    leaks = []
    for name, query, kind in _cases(mine):
        seen_body, seen_sql = await _answer(scoped, container, query, hidden[kind])
        missing_body, missing_sql = await _answer(scoped, container, query, MISSING)
        assert "INTERNAL_SERVER_ERROR" not in json.dumps(missing_body), (name, missing_body)
        if seen_body != missing_body:
            leaks.append(f"{name}: answered {seen_body} instead of {missing_body}")
        if seen_sql != missing_sql:
            leaks.append(f"{name}: {len(seen_sql)} statements instead of {len(missing_sql)}")
    assert leaks == [], "\n".join(leaks)


async def test_a_token_that_sees_both_depots_is_told_the_device_is_elsewhere(admin, scoped_client):
    mine = await _equipped(admin, "Mine")
    other = await _equipped(admin, "Other")
    for client in (admin, await scoped_client(Role.ADMIN, mine["depot"], other["depot"])):
        created = await client.execute(
            f"""mutation ($m: ID!, $d: ID!) {{ createControllerBinding(input: {{
              microgridId: $m, deviceId: $d, capabilities: [PEAK_SHAVING]}}) {PROBLEM} }}""",
            {"m": mine["microgrid"], "d": other["spare"]},
        )
        errors = created["createControllerBinding"]["fieldErrors"]
        assert [e["code"] for e in errors] == ["DEVICE_NOT_IN_DEPOT"], errors
        missing = await client.execute(
            f"""mutation ($m: ID!, $d: ID!) {{ createControllerBinding(input: {{
              microgridId: $m, deviceId: $d, capabilities: [PEAK_SHAVING]}}) {PROBLEM} }}""",
            {"m": mine["microgrid"], "d": MISSING},
        )
        codes = [e["code"] for e in missing["createControllerBinding"]["fieldErrors"]]
        assert codes == ["DEVICE_NOT_FOUND"]
