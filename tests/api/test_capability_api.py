"""recordCapabilityStatus, the card query and history over HTTP."""

from __future__ import annotations

from datetime import timedelta

from tests.api.helpers import new_depot

RECORD = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) {
    __typename
    ... on CapabilityStatusRecorded {
      duplicate
      event { id sequence status value appliedToLatest providerEventRef observedAt receivedAt }
      latest { capability status freshness observedAt staleAt ageSeconds eventId }
    }
    ... on Problem { code message }
    ... on ValidationFailed { fieldErrors { field code } }
  }
}"""

CARD = """query ($depotId: ID!) {
  microgridCard(depotId: $depotId) {
    __typename
    ... on MicrogridCard {
      microgridId depotId depotName microgridVersion revision generatedAt
      peakShaving {
        status freshness observedAt receivedAt ageSeconds staleAfterSeconds staleAt eventId
      }
      der { status freshness observedAt staleAt eventId providerEventRef }
      capabilities { capability status freshness eventId }
      gridConnections { name position }
      powerSources { name kind }
    }
    ... on NotFound { code }
  }
}"""


def _input(microgrid_id, at, ref="r1", capability="DER", value=True):
    return {
        "input": {
            "microgridId": microgrid_id,
            "capability": capability,
            "value": value,
            "observedAt": at.isoformat(),
            "providerEventRef": ref,
        }
    }


async def test_a_posted_status_shows_on_the_card_with_its_freshness(
    admin, integration, operator, clock
):
    depot = await new_depot(admin, "North", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]

    before = (await operator.execute(CARD, {"depotId": depot_id}))["microgridCard"]
    assert before["der"]["status"] == "UNKNOWN" and before["der"]["freshness"] == "NEVER_REPORTED"
    assert before["powerSources"] == [] and before["depotName"] == "North"

    observed = clock.current - timedelta(seconds=30)
    recorded = (await integration.execute(RECORD, _input(microgrid_id, observed)))[
        "recordCapabilityStatus"
    ]
    assert recorded["__typename"] == "CapabilityStatusRecorded" and not recorded["duplicate"]
    assert recorded["event"]["sequence"] == 1 and recorded["event"]["status"] == "ON"
    assert recorded["latest"]["freshness"] == "FRESH"

    card = (await operator.execute(CARD, {"depotId": depot_id}))["microgridCard"]
    assert card["der"]["status"] == "ON" and card["der"]["freshness"] == "FRESH"
    assert card["der"]["eventId"] == recorded["event"]["id"]
    assert card["peakShaving"]["status"] == "UNKNOWN"
    assert card["capabilities"] == [
        {
            "capability": "PEAK_SHAVING",
            "status": "UNKNOWN",
            "freshness": "NEVER_REPORTED",
            "eventId": None,
        },
        {
            "capability": "DER",
            "status": "ON",
            "freshness": "FRESH",
            "eventId": recorded["event"]["id"],
        },
    ], "one status per capability type, in the enum's order, equal to the named fields"
    assert card["revision"] == before["revision"] + 1
    assert card["der"]["staleAt"] == (observed + timedelta(seconds=300)).isoformat()

    clock.advance(300)
    stale = (await operator.execute(CARD, {"depotId": depot_id}))["microgridCard"]
    assert stale["der"]["freshness"] == "STALE" and stale["revision"] == card["revision"]


async def test_exact_retry_returns_the_original_event(admin, integration, clock):
    depot = await new_depot(admin, "D", "F")
    variables = _input(depot["microgrid"]["id"], clock.current, ref="exact")
    first = (await integration.execute(RECORD, variables))["recordCapabilityStatus"]
    retry = (await integration.execute(RECORD, variables))["recordCapabilityStatus"]
    variables["input"]["value"] = False
    reused = (await integration.execute(RECORD, variables))["recordCapabilityStatus"]
    assert retry["duplicate"] is True and retry["event"] == first["event"]
    assert reused["__typename"] == "Conflict" and reused["code"] == "PROVIDER_EVENT_REF_REUSED"


async def test_deterministic_answers_that_write_nothing(admin, integration, operator, clock):
    depot = await new_depot(admin, "D", "F")
    microgrid_id = depot["microgrid"]["id"]
    future = (
        await integration.execute(
            RECORD, _input(microgrid_id, clock.current + timedelta(minutes=6))
        )
    )["recordCapabilityStatus"]
    unknown = (
        await integration.execute(
            RECORD, _input("00000000-0000-4000-8000-000000000000", clock.current)
        )
    )["recordCapabilityStatus"]
    forbidden = await operator.errors(RECORD, _input(microgrid_id, clock.current))

    assert future["fieldErrors"] == [{"field": "input.observedAt", "code": "IN_THE_FUTURE"}]
    assert unknown["code"] == "MICROGRID_NOT_FOUND"
    assert forbidden[0]["extensions"]["code"] == "FORBIDDEN"
    history = await admin.execute(
        """query ($id: ID!) { microgrid(id: $id) { ... on Microgrid {
        capabilityHistory { edges { node { id } } } } } }""",
        {"id": microgrid_id},
    )
    assert history["microgrid"]["capabilityHistory"]["edges"] == []


async def test_card_for_a_depot_without_microgrid_is_not_found(admin, operator):
    empty = await new_depot(admin, "Empty")
    result = (await operator.execute(CARD, {"depotId": empty["depot"]["id"]}))["microgridCard"]
    missing = (await operator.execute(CARD, {"depotId": "nope"}))["microgridCard"]
    assert result == {"__typename": "NotFound", "code": "MICROGRID_NOT_FOUND"}
    assert missing == {"__typename": "NotFound", "code": "DEPOT_NOT_FOUND"}


async def test_history_pages_newest_first_and_statuses_on_the_microgrid(admin, integration, clock):
    depot = await new_depot(admin, "D", "F")
    microgrid_id = depot["microgrid"]["id"]
    t0 = clock.current
    for i in range(5):
        await integration.execute(
            RECORD,
            _input(
                microgrid_id,
                t0 - timedelta(seconds=10 * i),
                ref=f"r{i}",
                capability="PEAK_SHAVING" if i % 2 else "DER",
                value=bool(i % 2),
            ),
        )
    query = """query ($id: ID!, $after: String, $cap: CapabilityType) { microgrid(id: $id) {
      ... on Microgrid {
        capabilityStatuses { capability status freshness }
        capabilityHistory(capability: $cap, first: 2, after: $after) {
          edges { cursor node { sequence appliedToLatest capability } }
          pageInfo { hasNextPage endCursor } } } } }"""
    first = (await admin.execute(query, {"id": microgrid_id}))["microgrid"]
    assert [e["node"]["sequence"] for e in first["capabilityHistory"]["edges"]] == [5, 4]
    assert first["capabilityHistory"]["pageInfo"]["hasNextPage"]
    second = (
        await admin.execute(
            query,
            {"id": microgrid_id, "after": first["capabilityHistory"]["pageInfo"]["endCursor"]},
        )
    )["microgrid"]
    assert [e["node"]["sequence"] for e in second["capabilityHistory"]["edges"]] == [3, 2]
    der = (await admin.execute(query, {"id": microgrid_id, "cap": "DER"}))["microgrid"]
    assert {e["node"]["capability"] for e in der["capabilityHistory"]["edges"]} == {"DER"}
    assert [e["node"]["appliedToLatest"] for e in der["capabilityHistory"]["edges"]] == [
        False,
        False,
    ]
    assert first["capabilityStatuses"] == [
        {"capability": "PEAK_SHAVING", "status": "ON", "freshness": "FRESH"},
        {"capability": "DER", "status": "OFF", "freshness": "FRESH"},
    ]
