"""Feature flags over the real ASGI app, on both databases: reading them (every
role that reads; a scoped token only its depots), setting them (admins only,
audited, null clears), a page of depots in one read, and the data a flag gates
served whatever the flag says."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
from sqlalchemy import event

from domain.access import Role
from tests.api.helpers import new_depot
from tests.support.graphql import GraphQLClient
from tests.support.live_server import live_server

KEY = "new-microgrid-fields-load-chart"
MISSING = "00000000-0000-4000-8000-000000000000"
FLAGS = "query ($d: ID) { featureFlags(depotId: $d) { key description enabled source depotId } }"
SET = """mutation ($i: SetFeatureFlagInput!) { setFeatureFlag(input: $i) {
  __typename
  ... on FeatureFlag { key enabled source depotId }
  ... on NotFound { code message resource id }
  ... on ValidationFailed { code fieldErrors { field code message } }
} }"""
TRAIL = "{ auditTrail(first: 20) { edges { node { action tokenId depotId detail } } } }"


async def _flags(client, depot_id=None):
    return (await client.execute(FLAGS, {"d": depot_id}))["featureFlags"]


async def _set(client, **fields):
    return (await client.execute(SET, {"i": fields}))["setFeatureFlag"]


def _value(flags):
    (flag,) = flags
    return flag["enabled"], flag["source"]


async def test_defaults_global_depot_and_clearing(admin, operator):
    depot = (await new_depot(admin, "North", "F"))["depot"]["id"]
    (flag,) = await _flags(operator)
    assert flag["key"] == KEY and "load chart" in flag["description"]
    assert (flag["enabled"], flag["source"], flag["depotId"]) == (False, "DEFAULT", None)
    assert _value(await _flags(operator, depot)) == (False, "DEFAULT")

    assert await _set(admin, key=KEY, enabled=True) == {
        "__typename": "FeatureFlag",
        "key": KEY,
        "enabled": True,
        "source": "GLOBAL",
        "depotId": None,
    }
    assert _value(await _flags(operator, depot)) == (True, "GLOBAL")
    changed = await _set(admin, key=KEY, enabled=False, depotId=depot)
    assert (changed["enabled"], changed["source"], changed["depotId"]) == (False, "DEPOT", depot)
    assert _value(await _flags(operator, depot)) == (False, "DEPOT")
    assert _value(await _flags(operator)) == (True, "GLOBAL")

    cleared = await _set(admin, key=KEY, enabled=None, depotId=depot)
    assert (cleared["enabled"], cleared["source"]) == (True, "GLOBAL")
    omitted = await _set(admin, key=KEY)  # enabled left out: also clears
    assert (omitted["enabled"], omitted["source"]) == (False, "DEFAULT")
    assert _value(await _flags(operator, depot)) == (False, "DEFAULT")


async def test_settings_are_audited_with_the_acting_token(admin, container):
    depot = (await new_depot(admin, "North", "F"))["depot"]["id"]
    await _set(admin, key=KEY, enabled=True, depotId=depot)
    await _set(admin, key=KEY, enabled=False)
    await _set(admin, key="nope", enabled=True)  # refused: not audited
    trail = [e["node"] for e in (await admin.execute(TRAIL))["auditTrail"]["edges"]]
    flags = [e for e in trail if e["action"] == "setFeatureFlag"]
    assert [(e["depotId"], e["detail"]) for e in flags] == [
        (None, {"key": KEY, "scope": "global", "enabled": False, "previous": None}),
        (depot, {"key": KEY, "scope": "depot", "enabled": True, "previous": None}),
    ]
    assert flags[0]["tokenId"] == trail[-1]["tokenId"] is not None  # the createDepot's admin


async def test_only_admins_set_flags_and_integrations_do_not_read_them(
    admin, operator, integration
):
    depot = (await new_depot(admin, "North", "F"))["depot"]["id"]
    for client in (operator, integration):
        response = await client.raw(SET, {"i": {"key": KEY, "enabled": True, "depotId": depot}})
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "FORBIDDEN"
    (error,) = await integration.errors(FLAGS, {"d": depot})
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert _value(await _flags(admin, depot)) == (False, "DEFAULT")


async def test_unknown_keys_are_field_errors(admin):
    depot = (await new_depot(admin, "North", "F"))["depot"]["id"]
    for fields in ({"key": "nope", "enabled": True}, {"key": "", "depotId": depot}):
        refused = await _set(admin, **fields)
        assert refused["__typename"] == "ValidationFailed"
        assert [(e["field"], e["code"]) for e in refused["fieldErrors"]] == [
            ("input.key", "UNKNOWN_FEATURE_FLAG")
        ]
    assert _value(await _flags(admin)) == (False, "DEFAULT")


async def test_a_scoped_token_sees_and_sets_only_its_depots(admin, scoped_client):
    mine = (await new_depot(admin, "Mine", "F"))["depot"]["id"]
    hidden = (await new_depot(admin, "Hidden", "F"))["depot"]["id"]
    await _set(admin, key=KEY, enabled=True, depotId=hidden)
    operator = await scoped_client(Role.OPERATOR, mine)
    assert _value(await _flags(operator, mine)) == (False, "DEFAULT")
    assert _value(await _flags(operator)) == (False, "DEFAULT"), "global values: for all"
    for client in (operator, await scoped_client(Role.ADMIN, mine)):
        seen = await client.raw(FLAGS, {"d": hidden})
        missing = await client.raw(FLAGS, {"d": MISSING})
        assert seen.json() == missing.json() == {"data": {"featureFlags": []}}
        malformed = await client.raw(FLAGS, {"d": "not-an-id"})
        assert malformed.json() == missing.json()

    scoped_admin = await scoped_client(Role.ADMIN, mine)
    seen = await scoped_admin.raw(SET, {"i": {"key": KEY, "enabled": False, "depotId": hidden}})
    missing = await scoped_admin.raw(SET, {"i": {"key": KEY, "enabled": False, "depotId": MISSING}})
    assert json.loads(seen.text.replace(hidden, MISSING)) == missing.json()
    assert missing.json()["data"]["setFeatureFlag"]["code"] == "DEPOT_NOT_FOUND"
    refused = await _set(scoped_admin, key=KEY, enabled=True)
    assert [e["code"] for e in refused["fieldErrors"]] == ["FORBIDDEN_FOR_SCOPED_TOKEN"]
    assert _value(await _flags(admin, hidden)) == (True, "DEPOT")
    assert (await _set(scoped_admin, key=KEY, enabled=True, depotId=mine))["source"] == "DEPOT"


PAGE = "{ depots(first: 50) { edges { node { id featureFlags { key enabled source depotId } } } } }"


async def _statements(container, client, query):
    seen: list[str] = []

    def counted(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(container.engine.sync_engine, "before_cursor_execute", counted)
    try:
        data = await client.execute(query)
    finally:
        event.remove(container.engine.sync_engine, "before_cursor_execute", counted)
    return data, seen


async def test_a_page_of_depots_reads_its_flags_in_one_statement(admin, operator, container):
    depots = [(await new_depot(admin, f"D{i:02}", "F"))["depot"]["id"] for i in range(3)]
    _data, with_three = await _statements(container, operator, PAGE)
    for i in range(3, 50):
        depots.append((await new_depot(admin, f"D{i:02}", "F"))["depot"]["id"])
    await _set(admin, key=KEY, enabled=True, depotId=depots[7])
    data, with_fifty = await _statements(container, operator, PAGE)
    assert len(with_fifty) == len(with_three)
    assert sum("feature_flag_settings" in s for s in with_fifty) == 1
    flags = {e["node"]["id"]: e["node"]["featureFlags"] for e in data["depots"]["edges"]}
    assert len(flags) == 50
    assert {d: _value(f) for d, f in flags.items()} == {
        d: (True, "DEPOT") if d == depots[7] else (False, "DEFAULT") for d in depots
    }
    assert all(f[0]["depotId"] == d for d, f in flags.items())


CARD = """query ($d: ID!) { microgridCard(depotId: $d) { ... on MicrogridCard {
  capabilities { capability status freshness observedAt }
  peakShaving { status } der { status }
} } }"""


async def test_a_flag_never_hides_the_data_it_gates(admin, operator, integration, clock):
    made = await new_depot(admin, "North", "F")
    depot, microgrid = made["depot"]["id"], made["microgrid"]["id"]
    await integration.execute(
        """mutation ($i: RecordCapabilityStatusInput!) {
          recordCapabilityStatus(input: $i) { __typename } }""",
        {
            "i": {
                "microgridId": microgrid,
                "capability": "DER",
                "value": True,
                "observedAt": (clock.now() - timedelta(seconds=5)).isoformat(),
                "providerEventRef": "r-1",
            }
        },
    )
    await _set(admin, key=KEY, enabled=False, depotId=depot)
    assert _value(await _flags(operator, depot)) == (False, "DEPOT")
    card = (await operator.execute(CARD, {"d": depot}))["microgridCard"]
    statuses = {c["capability"]: c["status"] for c in card["capabilities"]}
    assert statuses == {"DER": "ON", "PEAK_SHAVING": "UNKNOWN"}
    assert card["der"]["status"] == "ON"
    await _set(admin, key=KEY, enabled=True, depotId=depot)
    assert (await operator.execute(CARD, {"d": depot}))["microgridCard"] == card


async def test_flags_over_a_real_http_connection(admin, container):
    depot = (await new_depot(admin, "North", "F"))["depot"]["id"]
    async with live_server(container) as url, httpx.AsyncClient(base_url=url) as http:
        client = GraphQLClient(http, admin.token)
        changed = await _set(client, key=KEY, enabled=True, depotId=depot)
        assert (changed["enabled"], changed["source"]) == (True, "DEPOT")
        assert _value(await _flags(client, depot)) == (True, "DEPOT")
