"""No N+1 anywhere: one query touching every list field of the schema makes the
same number of SQL statements for 2 depots as for 6 (each with circuits,
children, equipment, bindings, statuses and history), on both stores."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    parse,
    visit,
)
from tests.api.helpers import new_circuit, new_depot

SDL = Path(__file__).resolve().parents[2] / "graphql" / "schema.graphql"

EVERY_LIST = """
query EveryList($deviceId: ID!, $depotId: ID!) {
  depots(first: 10) { edges { node {
    circuits { id children { id children { id } } }
    powerSources { id }
    gateways { id }
    devices { id sensorActions { id } }
    featureFlags { key enabled source }
    microgrid {
      depot { id }
      gridConnections { id circuit { id children { id } } }
      topology { id }
      drift { added removed renamed }
      capabilityStatuses { capability status }
      capabilityHistory(first: 5) { edges { node { id } } }
      controllerBindings(includeDisabled: true) {
        capabilities device { id sensorActions { id } }
      }
    }
  } } }
  microgridCard(depotId: $depotId) {
    ... on MicrogridCard {
      gridConnections { id circuit { id } } powerSources { id } capabilities { capability }
    }
  }
  sensorPackets(deviceId: $deviceId) {
    edges { node { id outcomes { outcome measurands } } }
  }
  auditTrail(first: 100) { edges { node { id } } }
  viewer { depotIds }
  loadChart(depotId: $depotId, from: "2025-12-31T00:00:00Z", to: "2026-01-01T00:00:00Z") {
    ... on LoadChart {
      series { points { at } } capabilityIntervals { from } capacitySourceIntervals { from }
    }
  }
  featureFlags(depotId: $depotId) { key }
}
"""

ONLY_IN_MUTATION_RESULTS = {
    "ValidationFailed.fieldErrors": "built in memory from one validation",
    "BackfillReport.createdMicrogridIds": "built in memory by one backfill",
    "SensorPacketIngested.outcomes": "built in memory by one packet's actions",
    "SensorPacketsIngested.results": "built in memory by one batch of packets",
}


def _list_fields() -> set[str]:
    schema = build_schema(SDL.read_text())
    found = set()
    for name, kind in schema.type_map.items():
        if isinstance(kind, GraphQLObjectType) and not name.startswith("__"):
            for field_name, field in kind.fields.items():
                inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
                if isinstance(inner, GraphQLList):
                    found.add(f"{name}.{field_name}")
    return found


def _selected(query: str) -> set[str]:
    schema = build_schema(SDL.read_text())
    info = TypeInfo(schema)
    seen: set[str] = set()

    class Collect(Visitor):
        def enter_field(self, node: Any, *_: Any) -> None:
            parent = info.get_parent_type()
            if parent is not None:
                seen.add(f"{parent.name}.{node.name.value}")

    visit(parse(query), TypeInfoVisitor(info, Collect()))
    return seen


def test_the_query_below_selects_every_list_field_of_the_schema():
    missing = _list_fields() - _selected(EVERY_LIST) - set(ONLY_IN_MUTATION_RESULTS)
    assert not missing, f"add these list fields to EVERY_LIST: {sorted(missing)}"


async def _depot(admin, integration, clock, n: int) -> dict[str, str]:
    made = await new_depot(admin, f"Depot {n}", "Feeder A", "Feeder B")
    depot_id, microgrid = made["depot"]["id"], made["microgrid"]
    feeder = made["microgrid"]["gridConnections"][0]["circuitId"]
    await new_circuit(admin, depot_id, "Charger row", parentId=feeder)
    await admin.execute(
        """mutation ($d: ID!, $c: ID!) {
          b: createPowerSource(input: {depotId: $d, kind: BATTERY, name: "BESS", circuitId: $c}) {
            __typename }
          g: createGateway(input: {depotId: $d, name: "GW"}) { __typename }
        }""",
        {"d": depot_id, "c": feeder},
    )
    device = await admin.execute(
        """mutation ($d: ID!, $c: ID!) {
          createDevice(input: {depotId: $d, name: "MGC", circuitId: $c}) { ... on Device { id } }
        }""",
        {"d": depot_id, "c": feeder},
    )
    device_id = device["createDevice"]["id"]
    await admin.execute(
        """mutation ($i: ConfigureSensorActionInput!) {
          configureSensorAction(input: $i) { __typename } }""",
        {"i": {"deviceId": device_id, "type": "UPDATE_POWER_SOURCE_STATE"}},
    )
    await admin.execute(
        """mutation ($i: CreateControllerBindingInput!) {
          createControllerBinding(input: $i) { __typename } }""",
        {"i": {"microgridId": microgrid["id"], "deviceId": device_id, "capabilities": ["DER"]}},
    )
    for k, capability in enumerate(["DER", "PEAK_SHAVING", "DER"]):
        await integration.execute(
            """mutation ($i: RecordCapabilityStatusInput!) {
              recordCapabilityStatus(input: $i) { __typename } }""",
            {
                "i": {
                    "microgridId": microgrid["id"],
                    "capability": capability,
                    "value": True,
                    "observedAt": (clock.now() - timedelta(seconds=k)).isoformat(),
                    "providerEventRef": f"{n}-{k}",
                }
            },
        )
    packet = {
        "device_id": device_id,
        "timestamp": int(clock.now().timestamp() * 1000) - n,
        "manufacturer": "BBA",
        "model": None,
        "serial_number": None,
        "sensors": [
            {
                "sensor_id": "mgc",
                "measurands": [{"key": "DEVICE_POWER_STATE", "value": "on", "unit": None}],
            }
        ],
    }
    ingested = await integration.execute(
        "mutation ($p: JSON!) { ingestSensorPacket(packet: $p) { __typename } }", {"p": packet}
    )
    assert ingested["ingestSensorPacket"]["__typename"] == "SensorPacketIngested", ingested
    return {"depotId": depot_id, "deviceId": device_id}


async def _statements(container, admin, variables) -> int:
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(container.engine.sync_engine, "before_cursor_execute", counted)
    try:
        data = await admin.execute(EVERY_LIST, variables)
    finally:
        event.remove(container.engine.sync_engine, "before_cursor_execute", counted)
    assert data["depots"]["edges"] and data["sensorPackets"]["edges"]
    return count


async def test_every_list_field_costs_the_same_statements_for_2_and_6_depots(
    container, admin, integration, clock
):
    first = [await _depot(admin, integration, clock, n) for n in range(2)]
    with_two = await _statements(container, admin, first[0])
    for n in range(2, 6):
        await _depot(admin, integration, clock, n)
    with_six = await _statements(container, admin, first[0])
    assert with_six == with_two, f"{with_two} statements for 2 depots, {with_six} for 6"
