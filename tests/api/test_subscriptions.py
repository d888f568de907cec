"""Subscriptions over graphql-transport-ws against the real app served by uvicorn."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport

from domain.access import Role
from tests.api.helpers import new_circuit, new_depot
from tests.support.live_server import live_server
from tests.support.ws import WsClient

CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision microgridVersion der { status freshness staleAt }
                peakShaving { status } gridConnections { name } } } }"""
RECORD = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""

pytestmark = pytest.mark.stores("sqlite", "postgresql")


def _status(microgrid_id, at, ref, value=True, capability="DER"):
    return {
        "input": {
            "microgridId": microgrid_id,
            "capability": capability,
            "value": value,
            "observedAt": at.isoformat(),
            "providerEventRef": ref,
        }
    }


async def test_card_subscription_snapshot_then_status_topology_and_freshness(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "Live", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    operator = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        ws = await WsClient.connect(url, operator)
        await ws.subscribe(CARD_SUB, {"depotId": depot_id})
        snapshot = (await ws.data())["microgridCard"]
        assert snapshot["reason"] == "SNAPSHOT"
        assert snapshot["card"]["der"] == {
            "status": "UNKNOWN",
            "freshness": "NEVER_REPORTED",
            "staleAt": None,
        }

        await integration.execute(RECORD, _status(microgrid_id, clock.current, "r1"))
        status = (await ws.data())["microgridCard"]
        assert status["reason"] == "CAPABILITY_STATUS"
        assert status["card"]["der"]["status"] == "ON"
        assert status["card"]["der"]["freshness"] == "FRESH"
        assert status["card"]["revision"] > snapshot["card"]["revision"]

        await new_circuit(admin, depot_id, "Feeder 2")
        topology = (await ws.data())["microgridCard"]
        assert topology["reason"] == "TOPOLOGY"
        assert [g["name"] for g in topology["card"]["gridConnections"]] == ["Feeder", "Feeder 2"]
        assert topology["card"]["microgridVersion"] == 2

        assert await ws.nothing_within(0.2)
        clock.advance(301)
        freshness = (await ws.data())["microgridCard"]
        assert freshness["reason"] == "FRESHNESS"
        assert freshness["card"]["der"]["freshness"] == "STALE"
        assert freshness["card"]["revision"] == topology["card"]["revision"]
        await ws.close()


async def test_event_and_topology_subscriptions_with_an_external_client(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "Live", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    async with live_server(container) as url:
        transport = WebsocketsTransport(
            url=url.replace("http", "ws") + "/graphql",
            init_payload={"Authorization": f"Bearer {admin.token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
            close_timeout=1,
        )
        async with Client(transport=transport) as session:
            events_request = gql("""subscription ($id: ID!) {
                capabilityStatusEvents(microgridId: $id) { sequence capability status } }""")
            events_request.variable_values = {"id": microgrid_id}
            topology_request = gql("""subscription ($id: ID!) {
                microgridTopology(microgridId: $id) { version gridConnections { name } } }""")
            topology_request.variable_values = {"id": microgrid_id}
            events = session.subscribe(events_request)
            topology = session.subscribe(topology_request)
            first_topology = await anext(topology)
            assert first_topology["microgridTopology"]["version"] == 1
            pending = asyncio.ensure_future(anext(events))
            await asyncio.sleep(0.2)
            await integration.execute(
                RECORD,
                _status(microgrid_id, clock.current, "p1", capability="PEAK_SHAVING", value=False),
            )
            event = await asyncio.wait_for(pending, 5)
            assert event["capabilityStatusEvents"] == {
                "sequence": 1,
                "capability": "PEAK_SHAVING",
                "status": "OFF",
            }
            await new_circuit(admin, depot_id, "Second")
            changed = await asyncio.wait_for(anext(topology), 5)
            assert [g["name"] for g in changed["microgridTopology"]["gridConnections"]] == [
                "Feeder",
                "Second",
            ]
            await events.aclose()
            await topology.aclose()


async def test_subscriptions_are_authorised_and_scoped(container, admin, clock):
    mine = await new_depot(admin, "Mine", "F")
    other = await new_depot(admin, "Other", "F")
    scoped = (
        await container.tokens.issue(Role.OPERATOR, (mine["depot"]["id"],), clock.now())
    ).token
    integration = (await container.tokens.issue(Role.INTEGRATION, (), clock.now())).token
    async with live_server(container) as url:
        ws = await WsClient.connect(url, scoped)
        await ws.subscribe(CARD_SUB, {"depotId": other["depot"]["id"]})
        hidden = await ws.next()
        await ws.subscribe(CARD_SUB, {"depotId": "00000000-0000-4000-8000-000000000000"})
        missing = await ws.next()
        hidden_error, missing_error = ws.errors(hidden)[0], ws.errors(missing)[0]
        assert (
            hidden_error["extensions"]["code"]
            == missing_error["extensions"]["code"]
            == ("NOT_FOUND")
        )
        assert hidden_error["message"].replace(other["depot"]["id"], "X") == (
            missing_error["message"].replace("00000000-0000-4000-8000-000000000000", "X")
        )
        await ws.close()

        ws = await WsClient.connect(url, integration)
        await ws.subscribe(CARD_SUB, {"depotId": mine["depot"]["id"]})
        denied = await ws.next()
        assert ws.errors(denied)[0]["extensions"]["code"] == "FORBIDDEN"
        await ws.close()


async def test_freshness_of_a_status_that_is_already_stale_needs_no_timer(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "D", "F")
    await integration.execute(
        RECORD, _status(depot["microgrid"]["id"], clock.current - timedelta(seconds=400), "old")
    )
    async with live_server(container) as url:
        ws = await WsClient.connect(url, admin.token)
        await ws.subscribe(CARD_SUB, {"depotId": depot["depot"]["id"]})
        snapshot = (await ws.data())["microgridCard"]
        assert snapshot["card"]["der"]["freshness"] == "STALE"
        clock.advance(1000)
        assert await ws.nothing_within(0.2)
        await ws.close()


async def test_power_source_capacity_and_binding_changes_reach_the_card(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "Live", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    feeder = depot["microgrid"]["gridConnections"][0]["circuitId"]
    created = await admin.execute(
        """mutation ($d: ID!, $c: ID!) {
      b: createPowerSource(input: {depotId: $d, kind: BATTERY, name: "BESS"}) {
        ... on PowerSource { id } }
      dev: createDevice(input: {depotId: $d, name: "MGC", circuitId: $c}) {
        ... on Device { id } } }""",
        {"d": depot_id, "c": feeder},
    )
    device_id = created["dev"]["id"]
    for action in ("UPDATE_POWER_SOURCE_STATE", "UPDATE_CIRCUIT_CAPACITY"):
        await admin.execute(
            """mutation ($i: ConfigureSensorActionInput!) {
          configureSensorAction(input: $i) { __typename } }""",
            {"i": {"deviceId": device_id, "type": action}},
        )
    sub = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
      reason card { revision der { staleAfterSeconds } powerSources { socPercent }
        gridConnections { circuit { effectiveCapacityW capacitySource } } } } }"""
    async with live_server(container) as url:
        ws = await WsClient.connect(url, admin.token)
        await ws.subscribe(sub, {"depotId": depot_id})
        snapshot = (await ws.data())["microgridCard"]
        assert snapshot["card"]["powerSources"] == [{"socPercent": None}]

        ts = int(clock.current.timestamp() * 1000)
        await integration.execute(
            "mutation ($p: JSON!) { ingestSensorPacket(packet: $p) { __typename } }",
            {
                "p": {
                    "device_id": device_id,
                    "timestamp": ts,
                    "manufacturer": None,
                    "model": None,
                    "serial_number": None,
                    "sensors": [
                        {"sensor_id": "s", "measurands": [{"key": "SOC", "value": 55, "unit": "%"}]}
                    ],
                }
            },
        )
        update = (await ws.data())["microgridCard"]
        assert update["reason"] == "POWER_SOURCE"
        assert update["card"]["powerSources"] == [{"socPercent": 55.0}]

        await integration.execute(
            "mutation ($p: JSON!) { ingestSensorPacket(packet: $p) { __typename } }",
            {
                "p": {
                    "device_id": device_id,
                    "timestamp": ts + 1,
                    "manufacturer": None,
                    "model": None,
                    "serial_number": None,
                    "sensors": [
                        {
                            "sensor_id": "s",
                            "measurands": [
                                {"key": "AVAILABLE_CHARGING_CAPACITY", "value": 9000, "unit": "W"},
                                {"key": "HEARTBEAT_STATUS", "value": "ok", "unit": None},
                            ],
                        }
                    ],
                }
            },
        )
        capacity = (await ws.data())["microgridCard"]
        assert capacity["reason"] == "CAPACITY"
        assert capacity["card"]["gridConnections"][0]["circuit"] == {
            "effectiveCapacityW": 9000.0,
            "capacitySource": "CONTROLLER_AVAILABLE",
        }

        await admin.execute(
            """mutation ($i: CreateControllerBindingInput!) {
          createControllerBinding(input: $i) { __typename } }""",
            {
                "i": {
                    "microgridId": microgrid_id,
                    "deviceId": device_id,
                    "capabilities": ["DER"],
                    "staleAfterSeconds": 42,
                }
            },
        )
        binding = (await ws.data())["microgridCard"]
        assert binding["reason"] == "BINDING"
        assert binding["card"]["der"]["staleAfterSeconds"] == 42
        await ws.close()


async def test_many_screens_on_one_card_share_one_read_and_each_gets_its_own_selection(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "Shared", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    operator = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    scoped = (await container.tokens.issue(Role.OPERATOR, (depot_id,), clock.now())).token
    narrow = "subscription ($d: ID!) { microgridCard(depotId: $d) { reason card { revision } } }"
    loaded = """subscription ($d: ID!) { microgridCard(depotId: $d) {
      card { gridConnections { circuit { name } } } } }"""
    async with live_server(container) as url:
        screens = []
        selections = [(operator, CARD_SUB)] * 3 + [(scoped, CARD_SUB), (operator, narrow)]
        for token, query in [*selections, (operator, loaded)]:
            ws = await WsClient.connect(url, token)
            await ws.subscribe(query, {"depotId" if query is CARD_SUB else "d": depot_id})
            await ws.data()  # snapshot
            screens.append(ws)
        reads_before = container.card_followers.reads
        direct_before = await _metric(url, "microgrid_card_updates_direct_total")

        await integration.execute(RECORD, _status(microgrid_id, clock.current, "shared"))
        updates = [(await ws.data())["microgridCard"] for ws in screens]
        assert updates.pop() == {"card": {"gridConnections": [{"circuit": {"name": "Feeder"}}]}}

        full = [u for u in updates if "microgridVersion" in u["card"]]
        assert len(full) == 4 and all(u == full[0] for u in full)
        assert full[0]["reason"] == "CAPABILITY_STATUS" and full[0]["card"]["der"]["status"] == "ON"
        assert updates[-1] == {
            "reason": "CAPABILITY_STATUS",
            "card": {"revision": full[0]["card"]["revision"]},
        }
        assert container.card_followers.reads - reads_before == 1
        # Every screen's frame was written in the follower's one pass.
        assert await _metric(url, "microgrid_card_updates_direct_total") - direct_before == 6
        for ws in screens:
            await ws.close()


async def _metric(url: str, name: str) -> float:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/metrics")
    assert response.status_code == 200
    assert f"# TYPE {name} " in response.text
    [value] = [
        line.split()[1] for line in response.text.splitlines() if line.startswith(f"{name} ")
    ]
    return float(value)


async def test_a_completed_card_subscription_gets_no_more_updates_and_its_neighbour_does(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "Two on one socket", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    operator = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url:
        ws = await WsClient.connect(url, operator)
        stopped = await ws.subscribe(CARD_SUB, {"depotId": depot_id})
        await ws.data()
        kept = await ws.subscribe(CARD_SUB, {"depotId": depot_id})
        await ws.data()
        await integration.execute(RECORD, _status(microgrid_id, clock.current, "both"))
        assert {(await ws.next())["id"] for _ in range(2)} == {stopped, kept}

        await ws.ws.send(json.dumps({"id": stopped, "type": "complete"}))
        await asyncio.sleep(0.05)
        await integration.execute(RECORD, _status(microgrid_id, clock.current, "one", False))
        update = await ws.next()
        assert update["id"] == kept
        assert update["payload"]["data"]["microgridCard"]["card"]["der"]["status"] == "OFF"
        assert await ws.nothing_within(0.2)
        await ws.close()
