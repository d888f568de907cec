"""Query limits (DESIGN §5): validation linear in the document, a cost limit, a
response-size cap, list sizes and roles checked before variable coercion, and
request errors that carry ``extensions`` like every other error."""

from __future__ import annotations

import ast
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from app.asgi import create_app
from app.console_documents import console_operation_names
from app.container import build_container
from app.settings import Settings
from domain.access import Role
from graphql import GraphQLSyntaxError, OperationDefinitionNode, get_named_type, parse
from graphql_documents.operations import operation, operation_names
from schema.query_limits import PAGE_CAP, document_errors, measure
from schema.root import build_schema
from tests.api.helpers import new_depot
from tests.support.graphql import GraphQLClient
from tests.support.live_server import live_server
from tests.support.ws import WsClient

MISSING = "00000000-0000-4000-8000-000000000000"


def fragment_bomb(levels: int, root: str, leaf: str) -> str:
    """Each fragment spreads the next twice: 2**levels expansions of ``leaf``."""
    chain = " ".join(
        f"fragment F{i} on {root} {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"{root.lower()} {{ ...F0 }} {chain} fragment F{levels} on {root} {{ {leaf} }}"


def problem_shape(error: dict) -> dict:
    extensions = error.get("extensions") or {}
    assert {"code", "type", "title", "status", "detail"} <= set(extensions), error
    return extensions


@pytest.fixture
async def limited(settings, clock) -> AsyncIterator[dict[Role, GraphQLClient]]:
    """Clients of a server with a small response cap and introspection off."""
    container = build_container(
        settings.model_copy(update={"max_response_bytes": 4_000, "introspection": False}),
        clock=clock,
    )
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        clients = {}
        for role in Role:
            token = (await container.tokens.issue(role, (), clock.now())).token
            clients[role] = GraphQLClient(http, token)
        yield clients
    await container.close()


@pytest.mark.parametrize("levels", [16, 60])
async def test_a_fragment_bomb_is_refused_by_its_cost(admin, levels):
    (error,) = await admin.errors(fragment_bomb(levels, "Query", "viewer { role }"))
    assert problem_shape(error)["code"] == "QUERY_TOO_COSTLY"


async def test_fragments_are_counted_for_depth_and_aliases(admin):
    deep = (
        "query { depots { ...A } } fragment A on DepotConnection { edges { node { ...B } } } "
        "fragment B on Depot { microgrid { ...C } } "
        "fragment C on Microgrid { gridConnections { circuit { ...D } } } "
        "fragment D on Circuit { " + "children { " * 12 + "id" + " }" * 13
    )
    (error,) = await admin.errors(deep)
    assert "depth" in error["message"].lower()
    assert problem_shape(error)["code"] == "GRAPHQL_VALIDATION_FAILED"
    aliases = "query { ...A ...A } fragment A on Query { " + " ".join(
        f"a{i}: viewer {{ role }}" for i in range(20)
    )
    (error,) = await admin.errors(aliases + " }")
    assert "aliases" in error["message"].lower()


async def test_many_pages_of_packets_in_one_read_are_too_costly(admin):
    pages = " ".join(
        f'p{i}: sensorPackets(deviceId: "{MISSING}", first: 100) '
        "{ edges { node { id packet } } }"
        for i in range(30)
    )
    (error,) = await admin.errors("{ " + pages + " }")
    extensions = problem_shape(error)
    assert extensions["code"] == "QUERY_TOO_COSTLY"
    assert "limit" in error["message"]


async def test_the_cost_honours_first_given_as_a_variable(admin):
    query = (
        "query ($n: Int!) { "
        + " ".join(
            f"p{i}: depots(first: $n) {{ edges {{ node {{ id name }} }} }}" for i in range(20)
        )
        + " }"
    )
    (error,) = await admin.errors(query, {"n": 100})
    assert problem_shape(error)["code"] == "QUERY_TOO_COSTLY"
    assert (await admin.execute(query, {"n": 2}))["p0"] == {"edges": []}


async def test_a_response_over_the_cap_is_an_error_not_the_body(limited):
    admin = limited[Role.ADMIN]
    for i in range(40):
        await new_depot(admin, f"A depot with a rather long name to fill the page {i:03}")
    response = await admin.raw("{ depots(first: 100) { edges { node { id name } } } }")
    assert response.status_code == 200
    body = response.json()
    (error,) = body["errors"]
    assert problem_shape(error)["code"] == "RESPONSE_TOO_LARGE"
    assert body.get("data") is None
    small = await admin.execute("{ depots(first: 2) { edges { node { id } } } }")
    assert len(small["depots"]["edges"]) == 2


def _circuits(count: int) -> dict:
    # Items that would fail coercion: a coercion error would show it ran first.
    return {"input": {"name": "D", "topLevelCircuits": [{"nope": i} for i in range(count)]}}


CREATE = "mutation ($input: CreateDepotInput!) { createDepot(input: $input) { __typename } }"


BIG = 15_000
"""As many invalid items as fit the default body cap (the finding sent 60,000,
which the 256 KiB cap now refuses with 413 before anything parses it)."""


async def test_a_role_that_may_not_run_the_operation_is_refused_before_coercion(operator):
    (error,) = await operator.errors(CREATE, _circuits(1_001))
    assert problem_shape(error)["code"] == "FORBIDDEN"
    (error,) = await operator.errors(CREATE, _circuits(BIG))
    assert problem_shape(error)["code"] == "FORBIDDEN"


async def test_a_list_over_a_thousand_items_is_refused_before_coercion(admin, integration):
    (error,) = await admin.errors(CREATE, _circuits(BIG))
    assert problem_shape(error)["code"] == "LIST_TOO_LONG"
    packet = {"device_id": MISSING, "sensors": [{"junk": [0] * 1_001}]}
    (error,) = await integration.errors(
        "mutation ($p: JSON!) { ingestSensorPacket(packet: $p) { __typename } }", {"p": packet}
    )
    assert problem_shape(error)["code"] == "LIST_TOO_LONG"
    literal = ", ".join(["PEAK_SHAVING"] * 1_001)
    query = (
        "mutation { createControllerBinding(input: {"
        f'microgridId: "{MISSING}", deviceId: "{MISSING}", capabilities: [{literal}]'
        "}) { __typename } }"
    )
    (error,) = await admin.errors(query)
    assert problem_shape(error)["code"] == "LIST_TOO_LONG"


@pytest.mark.parametrize(
    "query", ["{ viewer { role ", "{ viewer { " + "role " * 6000 + "} }", "{ viewer { r%le } }"]
)
async def test_syntax_and_token_limit_errors_carry_a_problem(admin, query):
    response = await admin.raw(query)
    (error,) = response.json()["errors"]
    extensions = problem_shape(error)
    assert extensions["code"] == "GRAPHQL_PARSE_FAILED"
    assert extensions["status"] == 400


async def test_no_suggestions_when_introspection_is_off(limited):
    admin = limited[Role.ADMIN]
    (error,) = await admin.errors("{ depo { id } }")
    assert problem_shape(error)["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "did you mean" not in error["message"].lower()
    errors = await admin.errors(
        "query ($c: CapabilityType) { depots { edges { node { microgrid { "
        "capabilityHistory(capability: $c) { edges { cursor } } } } } } }",
        {"c": "PEAK_SHAVIN"},
    )
    assert all("did you mean" not in e["message"].lower() for e in errors), errors


async def test_suggestions_stay_when_introspection_is_on(admin):
    (error,) = await admin.errors("{ depo { id } }")
    assert "did you mean" in error["message"].lower()


async def test_several_operations_need_an_operation_name(admin):
    document = "query A { viewer { role } } query B { depots { edges { cursor } } }"
    body = (await admin.raw(document)).json()
    assert body.get("data") is None
    (error,) = body["errors"]
    assert problem_shape(error)["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "operationName" in error["message"]
    named = await admin.http.post(
        "/graphql",
        json={"query": document, "operationName": "B"},
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert named.json()["data"] == {"depots": {"edges": []}}


@pytest.mark.stores("sqlite")
async def test_subscriptions_obey_the_same_limits(container, clock, store):
    token = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        ws = await WsClient.connect(url, token)
        card = f'microgridCard(depotId: "{MISSING}") {{ reason }}'
        await ws.subscribe(fragment_bomb(40, "Subscription", card))
        (error,) = WsClient.errors(await ws.next())
        assert problem_shape(error)["code"] == "QUERY_TOO_COSTLY"
        await ws.subscribe(
            "subscription ($d: ID!) { microgridCard(depotId: $d) { card { ...C ...C } } }"
            " fragment C on MicrogridCard { "
            + " ".join(f"a{i}: revision" for i in range(20))
            + " }",
            {"d": MISSING},
        )
        (error,) = WsClient.errors(await ws.next())
        assert "aliases" in error["message"].lower()
        await ws.subscribe(
            "subscription ($d: ID!) { microgridCard(depotId: $d) { reason } }",
            {"d": MISSING, "unused": [MISSING] * 5_000},
        )
        (error,) = WsClient.errors(await ws.next())
        assert problem_shape(error)["code"] == "LIST_TOO_LONG"
        await ws.close()


def _known_documents() -> dict[str, str]:
    """Every document the project sends: graphql/operations (the simulator's
    and the console's too), the bench's."""
    root = Path(__file__).resolve().parents[2]
    found = {f"operations/{name}": operation(name) for name in operation_names()}
    for name in console_operation_names():
        found[f"console/{name}"] = operation(name)
    for path in sorted((root / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.lstrip()
                if text.startswith(("query", "mutation", "subscription", "{")):
                    with contextlib.suppress(GraphQLSyntaxError):
                        parse(text)
                        found[f"bench/{path.stem}:{node.lineno}"] = text
    return found


def test_every_document_the_project_sends_is_within_the_limits():
    settings = Settings()
    schema = build_schema(introspection=False)._schema
    documents = _known_documents()
    assert any(name.startswith("console/") for name in documents)
    assert any(name.startswith("bench/") for name in documents)
    for name, text in documents.items():
        document = parse(text)
        errors = document_errors(
            schema,
            document,
            settings.max_query_depth,
            settings.max_aliases,
            settings.max_query_cost,
        )
        assert not errors, (name, errors)
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                widest = {
                    v.variable.name.value: PAGE_CAP for v in definition.variable_definitions or ()
                }
                cost = measure(schema, document, definition, widest).cost
                assert cost <= settings.max_query_cost, (name, cost)


@pytest.mark.parametrize(
    "query",
    [
        "{" + " viewer { role }" * 800 + "}",
        "query { ...A } "
        + " ".join(f"fragment F{i} on Query {{ viewer {{ role }} }}" for i in range(300))
        + " fragment A on Query { "
        + " ".join(f"...F{i}" for i in range(300))
        + " }",
    ],
)
async def test_selections_that_make_field_merging_quadratic_are_refused(admin, query):
    (error,) = await admin.errors(query)
    assert problem_shape(error)["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "comparisons" in error["message"]


def _naive(schema, document, node, parent):
    """Depth, aliases, cost with every spread expanded again (the library's way)."""
    fragments = {d.name.value: d for d in document.definitions if hasattr(d, "type_condition")}
    depth = aliases = cost = 0
    for selection in node.selections:
        if hasattr(selection, "alias"):
            aliases += selection.alias is not None
            cost += 1
            if selection.selection_set:
                field = parent.fields[selection.name.value]
                d, a, c = _naive(
                    schema, document, selection.selection_set, get_named_type(field.type)
                )
                first = [
                    int(x.value.value) for x in selection.arguments or () if x.name.value == "first"
                ]
                page = min(max(first[0], 1), PAGE_CAP) if first else 1
                if "first" in field.args and not first:
                    page = field.args["first"].default_value
                depth, aliases, cost = max(depth, d + 1), aliases + a, cost + page * c
        else:
            d, a, c = _naive(
                schema, document, fragments[selection.name.value].selection_set, parent
            )
            depth, aliases, cost = max(depth, d), aliases + a, cost + c
    return depth, aliases, cost


PIECES = [
    "viewer { role }",
    "v: viewer { role }",
    "depots(first: 7) { edges { cursor } }",
    "depots { pageInfo { hasNextPage } }",
]


@examples(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=4), min_size=1, max_size=6))
def test_measuring_each_fragment_once_counts_as_expanding_every_spread(bodies):
    schema = build_schema()._schema
    parts = []
    for i, picks in enumerate(bodies):
        later = [f"...F{j}" for j in range(i + 1, len(bodies))]
        chosen = [PIECES[p % 4] if p < 4 or not later else later[p % len(later)] for p in picks]
        parts.append(f"fragment F{i} on Query {{ __typename {' '.join(chosen)} }}")
    document = parse("query { ...F0 ...F0 } " + " ".join(parts))
    (query,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    found = measure(schema, document, query)
    expected = _naive(schema, document, query.selection_set, schema.query_type)
    assert (found.depth, found.aliases, found.cost) == expected


async def test_an_int_literal_too_long_to_be_an_int_is_a_client_error(admin):
    digits = "1" * 4_301  # past Python's int-from-text limit
    for query in (
        f"query ($f: Int = {digits}) {{ depots(first: $f) {{ edges {{ cursor }} }} }}",
        f"{{ depots(first: {digits}) {{ edges {{ cursor }} }} }}",
        f"query ($x: Float = {digits}.5) {{ viewer {{ role }} }}",
    ):
        errors = (await admin.raw(query)).json()["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["GRAPHQL_VALIDATION_FAILED"], errors
        assert "Number literals" in errors[0]["message"]


async def test_unpaginated_lists_are_counted_against_a_budget(admin, container, settings):
    """A deep circuit chain read through `circuits { children { … } }` costs
    little by `first` but completes circuits x depth items."""
    from tests.api.helpers import new_circuit

    depot = await new_depot(admin, "Chain", "c0")
    depot_id = depot["depot"]["id"]
    parent = depot["microgrid"]["gridConnections"][0]["circuitId"]
    for i in range(1, 40):
        parent = (await new_circuit(admin, depot_id, f"c{i}", parentId=parent))["circuit"]["id"]
    inner = "id"
    for _ in range(12):
        inner = f"children {{ {inner} }}"
    query = f'{{ depot(id: "{depot_id}") {{ circuits {{ {inner} }} }} }}'
    assert (await admin.raw(query)).json().get("errors") is None  # 40 x 13 items: fine

    tight = build_container(settings.model_copy(update={"max_result_items": 300}))
    token = (await tight.tokens.issue(Role.OPERATOR, (), tight.deps.clock.now())).token
    transport = httpx.ASGITransport(app=create_app(tight))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = (await GraphQLClient(http, token).raw(query)).json()
    await tight.close()
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"RESPONSE_TOO_LARGE"}, body
