"""Bindings, sensor actions and packet ingest over HTTP."""

from __future__ import annotations

from tests.api.helpers import new_depot

SETUP_DEVICE = """mutation ($depotId: ID!) {
  gw: createGateway(input: {depotId: $depotId, name: "gw"}) { ... on Gateway { id siteModelName } }
  bess: createPowerSource(input: {depotId: $depotId, kind: BATTERY, name: "BESS"}) {
    ... on PowerSource { id } }
}"""
DEVICE = """mutation ($input: CreateDeviceInput!) { createDevice(input: $input) {
  __typename ... on Device { id } } }"""
BIND = """mutation ($input: CreateControllerBindingInput!) {
  createControllerBinding(input: $input) {
  __typename
  ... on ControllerBinding { id capabilities enabled staleAfterSeconds device { id name } }
  ... on Problem { code message }
  ... on ValidationFailed { fieldErrors { field code } } } }"""
CONFIGURE = """mutation ($input: ConfigureSensorActionInput!) {
  configureSensorAction(input: $input) {
  __typename ... on SensorAction { id type enabled controllerBindingId }
  ... on ValidationFailed { fieldErrors { field code } } } }"""
INGEST = """mutation ($packet: JSON!) { ingestSensorPacket(packet: $packet) {
  __typename
  ... on SensorPacketIngested { packetId deviceId receivedAt
      outcomes { sensorActionId action outcome code message targetId measurands } }
  ... on NotFound { code }
  ... on ValidationFailed { fieldErrors { field code } } } }"""
CONFIG_VIEW = """query ($id: ID!) { microgrid(id: $id) { ... on Microgrid {
  controllerBindings(includeDisabled: true) {
    id capabilities enabled staleAfterSeconds lastReportedAt
    device { id name sensorActions { id type enabled controllerBindingId } } } } } }"""
PACKETS = """query ($deviceId: ID!, $after: String) {
  sensorPackets(deviceId: $deviceId, first: 2, after: $after) {
    edges { cursor node { id observedAt packet outcomes { action outcome code } } }
    pageInfo { hasNextPage endCursor } } }"""


async def _site(admin):
    depot = await new_depot(admin, "Depot", "Feeder")
    depot_id = depot["depot"]["id"]
    feeder = depot["microgrid"]["gridConnections"][0]["circuitId"]
    setup = await admin.execute(SETUP_DEVICE, {"depotId": depot_id})
    device = (
        await admin.execute(
            DEVICE,
            {
                "input": {
                    "depotId": depot_id,
                    "name": "MGC",
                    "gatewayId": setup["gw"]["id"],
                    "circuitId": feeder,
                }
            },
        )
    )["createDevice"]
    return depot, device["id"], setup["bess"]["id"], feeder


def _packet(device_id, ts, *measurands):
    return {
        "device_id": device_id,
        "timestamp": ts,
        "manufacturer": "BBA",
        "model": None,
        "serial_number": None,
        "firmware": "1.2",
        "sensors": [
            {
                "sensor_id": "mgc",
                "measurands": [{"key": k, "value": v, "unit": None} for k, v in measurands],
            }
        ],
    }


async def test_the_configuration_view_answers_in_one_query(admin):
    depot, device_id, _bess, _feeder = await _site(admin)
    microgrid_id = depot["microgrid"]["id"]
    bound = (
        await admin.execute(
            BIND,
            {
                "input": {
                    "microgridId": microgrid_id,
                    "deviceId": device_id,
                    "capabilities": ["DER"],
                    "staleAfterSeconds": 90,
                }
            },
        )
    )["createControllerBinding"]
    assert bound["__typename"] == "ControllerBinding" and bound["device"]["name"] == "MGC"
    await admin.execute(
        CONFIGURE, {"input": {"deviceId": device_id, "type": "UPDATE_CIRCUIT_CAPACITY"}}
    )

    view = (await admin.execute(CONFIG_VIEW, {"id": microgrid_id}))["microgrid"]
    (binding,) = view["controllerBindings"]
    assert binding["capabilities"] == ["DER"] and binding["staleAfterSeconds"] == 90
    assert binding["lastReportedAt"] is None
    actions = {a["type"]: a for a in binding["device"]["sensorActions"]}
    assert actions["UPDATE_MICROGRID_STATE"]["controllerBindingId"] == binding["id"]
    assert actions["UPDATE_MICROGRID_STATE"]["id"] == binding["id"], "one record, two views"
    assert actions["UPDATE_CIRCUIT_CAPACITY"]["controllerBindingId"] is None


async def test_invalid_binding_changes_answer_with_field_errors(admin):
    depot, device_id, _bess, _feeder = await _site(admin)
    bad = (
        await admin.execute(
            BIND,
            {
                "input": {
                    "microgridId": depot["microgrid"]["id"],
                    "deviceId": "nope",
                    "capabilities": [],
                    "staleAfterSeconds": 0,
                }
            },
        )
    )["createControllerBinding"]
    assert bad["__typename"] == "ValidationFailed"
    missing = (
        await admin.execute(
            BIND,
            {
                "input": {
                    "microgridId": "00000000-0000-4000-8000-000000000000",
                    "deviceId": device_id,
                    "capabilities": ["DER"],
                }
            },
        )
    )["createControllerBinding"]
    assert missing["code"] == "MICROGRID_NOT_FOUND"
    needs_binding = (
        await admin.execute(
            CONFIGURE, {"input": {"deviceId": device_id, "type": "UPDATE_MICROGRID_STATE"}}
        )
    )["configureSensorAction"]
    assert needs_binding["fieldErrors"] == [{"field": "input.type", "code": "BINDING_REQUIRED"}]


async def test_a_packet_through_all_four_actions(admin, integration, operator, clock):
    depot, device_id, bess_id, feeder = await _site(admin)
    microgrid_id = depot["microgrid"]["id"]
    await admin.execute(
        BIND,
        {
            "input": {
                "microgridId": microgrid_id,
                "deviceId": device_id,
                "capabilities": ["DER", "PEAK_SHAVING"],
            }
        },
    )
    for action in (
        "UPDATE_POWER_SOURCE_STATE",
        "UPDATE_POWER_SOURCE_LOAD",
        "UPDATE_CIRCUIT_CAPACITY",
    ):
        await admin.execute(CONFIGURE, {"input": {"deviceId": device_id, "type": action}})
    ts = int(clock.current.timestamp() * 1000)

    result = (
        await integration.execute(
            INGEST,
            {
                "packet": _packet(
                    device_id,
                    ts,
                    ("LIMIT_DER_EXPORT", "false"),
                    ("LIMIT_PEAK_SHAVING", "true"),
                    ("SOC", 64.5),
                    ("BESS_OPERATIONAL_MODE", "discharging"),
                    ("DEVICE_POWER_STATE", "on"),
                    ("TOTAL_POWER_LOAD", 12000),
                    ("AVAILABLE_CHARGING_CAPACITY", 250000),
                    ("FAIL_SAFE_CAPACITY", 80000),
                    ("HEARTBEAT_STATUS", "ok"),
                    ("DISPATCH_STATE", "on"),
                )
            },
        )
    )["ingestSensorPacket"]

    outcomes = {o["action"]: o for o in result["outcomes"]}
    assert {a: (o["outcome"], o["code"]) for a, o in outcomes.items()} == {
        "UPDATE_MICROGRID_STATE": ("APPLIED", "APPLIED"),
        "UPDATE_POWER_SOURCE_STATE": ("APPLIED", "APPLIED"),
        "UPDATE_POWER_SOURCE_LOAD": ("APPLIED", "APPLIED"),
        "UPDATE_CIRCUIT_CAPACITY": ("APPLIED", "APPLIED"),
    }
    assert outcomes["UPDATE_POWER_SOURCE_STATE"]["targetId"] == bess_id
    assert outcomes["UPDATE_CIRCUIT_CAPACITY"]["targetId"] == feeder

    read = await operator.execute(
        """query ($depotId: ID!) {
      microgridCard(depotId: $depotId) { ... on MicrogridCard {
        der { status } peakShaving { status }
        powerSources { socPercent operationalMode powerState loadW updatedAt }
        gridConnections { circuit { availableCapacityW failSafeCapacityW heartbeatStatus
                                    effectiveCapacityW capacitySource } } } } }""",
        {"depotId": depot["depot"]["id"]},
    )
    card = read["microgridCard"]
    assert (card["der"]["status"], card["peakShaving"]["status"]) == ("OFF", "ON")
    assert card["powerSources"][0] | {"updatedAt": None} == {
        "socPercent": 64.5,
        "operationalMode": "DISCHARGING",
        "powerState": "on",
        "loadW": 12000.0,
        "updatedAt": None,
    }
    assert card["gridConnections"][0]["circuit"] == {
        "availableCapacityW": 250000.0,
        "failSafeCapacityW": 80000.0,
        "heartbeatStatus": "OK",
        "effectiveCapacityW": 250000.0,
        "capacitySource": "CONTROLLER_AVAILABLE",
    }

    view = (await admin.execute(CONFIG_VIEW, {"id": microgrid_id}))["microgrid"]
    assert view["controllerBindings"][0]["lastReportedAt"] is not None


async def test_packets_are_kept_newest_first_with_dispatch_state_visible(admin, integration, clock):
    depot, device_id, _bess, _feeder = await _site(admin)
    ts = int(clock.current.timestamp() * 1000)
    for i, dispatch in enumerate(("on", "off", "on")):
        clock.advance(1)
        await integration.execute(
            INGEST, {"packet": _packet(device_id, ts + i, ("DISPATCH_STATE", dispatch))}
        )
    first = (await admin.execute(PACKETS, {"deviceId": device_id}))["sensorPackets"]
    rest = (
        await admin.execute(
            PACKETS, {"deviceId": device_id, "after": first["pageInfo"]["endCursor"]}
        )
    )["sensorPackets"]
    stamps = [e["node"]["packet"]["timestamp"] for e in first["edges"] + rest["edges"]]
    assert stamps == [ts + 2, ts + 1, ts]
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]
    dispatch = [
        e["node"]["packet"]["sensors"][0]["measurands"][0]["value"]
        for e in first["edges"] + rest["edges"]
    ]
    assert dispatch == ["on", "off", "on"]


async def test_bad_packets_and_unknown_devices(admin, integration, operator, clock):
    _depot, device_id, _bess, _feeder = await _site(admin)
    ts = int(clock.current.timestamp() * 1000)
    bad = (
        await integration.execute(
            INGEST, {"packet": _packet(device_id, ts, ("SOC", 120), ("HEARTBEAT_STATUS", "OK"))}
        )
    )["ingestSensorPacket"]
    unknown = (
        await integration.execute(
            INGEST, {"packet": _packet("00000000-0000-4000-8000-000000000000", ts, ("SOC", 1))}
        )
    )["ingestSensorPacket"]
    as_operator = await operator.errors(INGEST, {"packet": _packet(device_id, ts)})
    assert bad["fieldErrors"] == [
        {"field": "packet.sensors[0].measurands[0].value", "code": "OUT_OF_RANGE"},
        {"field": "packet.sensors[0].measurands[1].value", "code": "NOT_IN_SET"},
    ]
    assert unknown == {"__typename": "NotFound", "code": "DEVICE_NOT_FOUND"}
    assert as_operator[0]["extensions"]["code"] == "FORBIDDEN"
    packets = (await admin.execute(PACKETS, {"deviceId": device_id}))["sensorPackets"]
    assert packets["edges"] == []


async def test_device_and_binding_lookups(admin, operator):
    depot, device_id, _bess, _feeder = await _site(admin)
    bound = (
        await admin.execute(
            BIND,
            {
                "input": {
                    "microgridId": depot["microgrid"]["id"],
                    "deviceId": device_id,
                    "capabilities": ["PEAK_SHAVING"],
                }
            },
        )
    )["createControllerBinding"]
    found = await operator.execute(
        """query ($d: ID!, $b: ID!) {
      device(id: $d) { name sensorActions { type } }
      controllerBinding(id: $b) { id capabilities device { id } } }""",
        {"d": device_id, "b": bound["id"]},
    )
    assert found["device"]["sensorActions"] == [{"type": "UPDATE_MICROGRID_STATE"}]
    assert found["controllerBinding"]["device"]["id"] == device_id
    disabled = await admin.execute(
        "mutation ($id: ID!) { disableControllerBinding(id: $id) {"
        " ... on ControllerBinding { enabled } } }",
        {"id": bound["id"]},
    )
    assert disabled["disableControllerBinding"]["enabled"] is False
    hidden = await admin.execute(
        CONFIG_VIEW.replace("(includeDisabled: true)", ""), {"id": depot["microgrid"]["id"]}
    )
    assert hidden["microgrid"]["controllerBindings"] == []
