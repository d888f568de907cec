"""Authentication and roles over HTTP (DESIGN §5)."""

from __future__ import annotations

from domain.access import Role
from tests.api.helpers import new_depot
from tests.support.graphql import GraphQLClient

QUERY = "{ depots { edges { node { id } } } }"


async def test_a_request_without_a_token_gets_401_with_a_problem(http):
    response = await http.post("/graphql", json={"query": QUERY})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["status"] == 401


async def test_an_unknown_token_gets_401(http):
    response = await GraphQLClient(http, "mgs_not-a-real-token").raw(QUERY)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["title"] == "Unauthenticated"


async def test_tokens_are_stored_hashed(container, admin, database_url):
    from sqlalchemy import select

    from persistence import tables as t

    async with container.engine.connect() as conn:
        stored = (await conn.execute(select(t.api_tokens.c.token_hash))).scalars().all()
    assert admin.token not in stored
    assert all(len(h) == 64 for h in stored)


async def test_operators_read_but_cannot_configure(operator, admin):
    depot = await new_depot(admin, "D", "Top")
    assert await operator.op("Depot", id=depot["depot"]["id"])
    errors = await operator.errors("mutation { backfillMicrogrids { created } }")
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert errors[0]["extensions"]["status"] == 403


async def test_integrations_cannot_read_or_configure(integration):
    for query in (QUERY, 'mutation { deleteCircuit(id: "x") { __typename } }'):
        errors = await integration.errors(query)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_depot_scoped_token_sees_only_its_depots(admin, scoped_client):
    mine = await new_depot(admin, "Mine", "Top")
    other = await new_depot(admin, "Other", "Top")
    scoped = await scoped_client(Role.ADMIN, mine["depot"]["id"])

    listed = await scoped.op("Depots")
    assert [e["node"]["name"] for e in listed["edges"]] == ["Mine"]
    assert await scoped.op("Depot", id=other["depot"]["id"]) is None
    other_microgrid = other["microgrid"]["id"]
    hidden = await scoped.op("Microgrid", id=other_microgrid)
    missing = await scoped.op("Microgrid", id="00000000-0000-0000-0000-000000000000")
    assert (hidden["__typename"], hidden["code"]) == (missing["__typename"], missing["code"])
    resync = await scoped.op("ResyncMicrogrid", depotId=other["depot"]["id"])
    assert resync["code"] == "DEPOT_NOT_FOUND"
    created = await scoped.op(
        "CreateCircuit", input={"depotId": other["depot"]["id"], "name": "sneaky"}
    )
    assert created["code"] == "DEPOT_NOT_FOUND"
    report = await scoped.op("BackfillMicrogrids", dryRun=True)
    assert report["alreadyProvisioned"] == 1


async def test_a_depot_scoped_token_cannot_create_depots(admin, scoped_client):
    mine = await new_depot(admin, "Mine", "Top")
    scoped = await scoped_client(Role.ADMIN, mine["depot"]["id"])
    result = await scoped.op("CreateDepot", input={"name": "New", "topLevelCircuits": []})
    assert result["__typename"] == "ValidationFailed"
    assert result["fieldErrors"][0]["code"] == "FORBIDDEN_FOR_SCOPED_TOKEN"
