"""Implausible values at the domain boundary are client errors, never stored
(DESIGN §2 "Plausible input"; issue 13 findings 1, 9, 11, 12)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from domain.packets import parse_packet
from domain.plausible.text import NAME, check_text
from domain.problems import FieldError
from tests.api.helpers import new_depot
from tests.api.test_capability_api import CARD, RECORD
from tests.api.test_sensor_api import CONFIGURE, INGEST, PACKETS, _packet, _site

NUL, LONE = "a\x00b", "a\ud800b"


async def post(client: Any, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Posts with ASCII-escaped JSON, so lone surrogates and 1e999 reach the server as sent."""
    body = json.dumps({"query": query, "variables": variables})
    response = await client.http.post(
        "/graphql",
        content=body.encode(),
        headers={"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    payload = json.loads(response.text, parse_constant=_refuse)
    codes = [e.get("extensions", {}).get("code") for e in payload.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, payload
    return dict(payload)


def _refuse(constant: str) -> None:
    raise AssertionError(f"the response holds the bare JSON constant {constant}")


def _status(microgrid_id: str, observed_at: str, ref: str = "r1") -> dict[str, Any]:
    return {
        "input": {
            "microgridId": microgrid_id,
            "capability": "DER",
            "value": True,
            "observedAt": observed_at,
            "providerEventRef": ref,
        }
    }


def _field_codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    assert result["__typename"] == "ValidationFailed", result
    return [(e["field"], e["code"]) for e in result["fieldErrors"]]


@pytest.mark.parametrize(
    "observed_at",
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "1999-12-31T23:59:59Z"],
)
async def test_an_implausible_observed_at_is_refused_and_the_card_stays_readable(
    admin, integration, operator, clock, observed_at
):
    depot = await new_depot(admin, "North", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]

    refused = await post(integration, RECORD, _status(microgrid_id, observed_at))
    assert _field_codes(refused["data"]["recordCapabilityStatus"]) == [
        ("input.observedAt", "OUT_OF_RANGE")
    ]

    card = (await post(operator, CARD, {"depotId": depot_id}))["data"]["microgridCard"]
    assert card["der"]["status"] == "UNKNOWN"
    later = await post(integration, RECORD, _status(microgrid_id, clock.current.isoformat(), "r2"))
    assert later["data"]["recordCapabilityStatus"]["__typename"] == "CapabilityStatusRecorded"


async def test_a_datetime_the_parser_cannot_represent_is_a_coded_client_error(admin, integration):
    depot = await new_depot(admin, "North", "Feeder")
    answer = await post(
        integration, RECORD, _status(depot["microgrid"]["id"], "9999-12-31T24:00:00Z")
    )
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", error


@pytest.mark.parametrize("ref", [NUL, "a\x07b"])
async def test_a_provider_event_ref_with_control_characters_is_refused(
    admin, integration, clock, ref
):
    depot = await new_depot(admin, "North", "Feeder")
    answer = await post(
        integration, RECORD, _status(depot["microgrid"]["id"], clock.current.isoformat(), ref)
    )
    assert _field_codes(answer["data"]["recordCapabilityStatus"]) == [
        ("input.providerEventRef", "INVALID_CHARACTERS")
    ]


async def test_a_lone_surrogate_is_refused_before_the_domain_and_by_it(admin, integration, clock):
    """Over HTTP the JSON reader refuses half a surrogate pair (400 INVALID_JSON);
    the domain refuses it too, for any other path (INVALID_CHARACTERS)."""
    depot = await new_depot(admin, "North", "Feeder")
    variables = _status(depot["microgrid"]["id"], clock.current.isoformat(), LONE)
    response = await integration.http.post(
        "/graphql",
        content=json.dumps({"query": RECORD, "variables": variables}).encode(),
        headers={
            "Authorization": f"Bearer {integration.token}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_JSON"
    refused = check_text(LONE, "input.name", NAME)
    assert isinstance(refused, FieldError) and refused.code == "INVALID_CHARACTERS"


NAMED = {
    "createDepot": ("CreateDepotInput", {}),
    "createCircuit": ("CreateCircuitInput", {"depotId": None}),
    "createPowerSource": ("CreatePowerSourceInput", {"depotId": None, "kind": "BATTERY"}),
    "createGateway": ("CreateGatewayInput", {"depotId": None}),
    "createDevice": ("CreateDeviceInput", {"depotId": None}),
}


@pytest.mark.parametrize("name", [NUL, "tab\there", "del\x7f", "line\u2028break"])
async def test_names_with_control_characters_are_refused_everywhere(admin, name):
    depot = await new_depot(admin, "D", "Top")
    depot_id = depot["depot"]["id"]
    circuit_id = depot["microgrid"]["gridConnections"][0]["circuitId"]
    for field, (input_type, extra) in NAMED.items():
        values = {k: depot_id if v is None else v for k, v in extra.items()}
        query = (
            f"mutation ($input: {input_type}!) {{ {field}(input: $input) {{ __typename "
            "... on ValidationFailed { fieldErrors { field code } } } }"
        )
        answer = await post(admin, query, {"input": {**values, "name": name}})
        assert _field_codes(answer["data"][field]) == [("input.name", "INVALID_CHARACTERS")], field
    update = await post(
        admin,
        "mutation ($input: UpdateCircuitInput!) { updateCircuit(input: $input) { __typename "
        "... on ValidationFailed { fieldErrors { field code } } } }",
        {"input": {"id": circuit_id, "name": name}},
    )
    assert _field_codes(update["data"]["updateCircuit"]) == [("input.name", "INVALID_CHARACTERS")]


async def _post_packet(integration: Any, packet: dict[str, Any] | str) -> Any:
    text = packet if isinstance(packet, str) else json.dumps(packet)
    body = f'{{"query": {json.dumps(INGEST)}, "variables": {{"packet": {text}}}}}'
    return await integration.http.post(
        "/graphql",
        content=body.encode(),
        headers={
            "Authorization": f"Bearer {integration.token}",
            "Content-Type": "application/json",
        },
    )


async def _ingest(integration: Any, packet: dict[str, Any] | str) -> dict[str, Any]:
    response = await _post_packet(integration, packet)
    assert response.status_code < 500, response.text
    payload = json.loads(response.text, parse_constant=_refuse)
    assert not payload.get("errors"), payload
    return dict(payload["data"]["ingestSensorPacket"])


async def _packets_read(operator: Any, device_id: str) -> list[dict[str, Any]]:
    answer = await post(operator, PACKETS, {"deviceId": device_id})
    assert not answer.get("errors"), answer
    return list(answer["data"]["sensorPackets"]["edges"])


async def test_a_non_finite_number_anywhere_in_a_packet_is_refused(
    admin, integration, operator, clock
):
    """Over HTTP the strict JSON reader refuses it first (400 INVALID_JSON); the
    domain refuses it too, whatever path a packet takes (NOT_FINITE)."""
    _depot, device_id, _bess, _feeder = await _site(admin)
    ts = int(clock.current.timestamp() * 1000)
    packet = json.dumps(_packet(device_id, ts, ("DISPATCH_STATE", "on")))
    huge = "1e999"
    for hostile in (
        packet[:-1] + f', "extra": {{"deep": [1, {huge}]}}}}',
        packet[:-1] + f', "junk": -{huge}}}',
        packet.replace('"unit": null', f'"unit": null, "x": {huge}'),
    ):
        response = await _post_packet(integration, hostile)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_JSON"
        decoded = json.loads(hostile)  # Python's reader turns 1e999 into infinity
        refused = parse_packet(decoded, clock.current)
        assert isinstance(refused, tuple), refused
        assert {e.code for e in refused} == {"NOT_FINITE"}, refused
    assert await _packets_read(operator, device_id) == []


async def test_units_must_be_the_documented_unit_and_values_plausible(
    admin, integration, operator, clock
):
    depot, device_id, _bess, feeder = await _site(admin)
    await admin.execute(
        CONFIGURE, {"input": {"deviceId": device_id, "type": "UPDATE_CIRCUIT_CAPACITY"}}
    )
    ts = int(clock.current.timestamp() * 1000)
    kilowatts = _packet(
        device_id, ts, ("AVAILABLE_CHARGING_CAPACITY", 250), ("HEARTBEAT_STATUS", "ok")
    )
    kilowatts["sensors"][0]["measurands"][0]["unit"] = "kW"
    result = await _ingest(integration, kilowatts)
    assert _field_codes(result) == [("packet.sensors[0].measurands[0].unit", "WRONG_UNIT")]

    enormous = _packet(
        device_id, ts + 1, ("AVAILABLE_CHARGING_CAPACITY", 1e308), ("HEARTBEAT_STATUS", "ok")
    )
    result = await _ingest(integration, enormous)
    assert _field_codes(result) == [("packet.sensors[0].measurands[0].value", "OUT_OF_RANGE")]

    watts = _packet(
        device_id, ts + 2, ("AVAILABLE_CHARGING_CAPACITY", 250), ("HEARTBEAT_STATUS", "ok")
    )
    watts["sensors"][0]["measurands"][0]["unit"] = "W"
    assert (await _ingest(integration, watts))["__typename"] == "SensorPacketIngested"
    assert len(await _packets_read(operator, device_id)) == 1
    assert depot["depot"]["id"] and feeder


@pytest.mark.parametrize(
    "position",
    [
        ["2026-01-01T00:00:00", "00000000-0000-4000-8000-000000000000"],
        ["0001-01-01T00:00:00+14:00", "00000000-0000-4000-8000-000000000000"],
        [5, None],
    ],
)
async def test_a_cursor_that_is_no_valid_position_starts_over(
    admin, integration, operator, clock, position
):
    _depot, device_id, _bess, _feeder = await _site(admin)
    ts = int(clock.current.timestamp() * 1000)
    await _ingest(integration, _packet(device_id, ts, ("DISPATCH_STATE", "on")))
    cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode()
    answer = await post(operator, PACKETS, {"deviceId": device_id, "after": cursor})
    assert not answer.get("errors"), answer
    assert len(answer["data"]["sensorPackets"]["edges"]) == 1


@pytest.mark.parametrize("length, refused", [(200, False), (201, True), (256, True)])
async def test_a_site_model_name_fits_its_column_on_both_stores(admin, length, refused):
    """The hostile suite found 201-256 characters accepted, then refused by
    PostgreSQL's varchar(200) as a fault."""
    depot = await new_depot(admin, "D", "Top")
    answer = await post(
        admin,
        "mutation ($input: CreateGatewayInput!) { createGateway(input: $input) { __typename "
        "... on ValidationFailed { fieldErrors { field code } } } }",
        {"input": {"depotId": depot["depot"]["id"], "name": "G", "siteModelName": "m" * length}},
    )
    result = answer["data"]["createGateway"]
    if refused:
        assert _field_codes(result) == [("input.siteModelName", "TOO_LONG")], result
    else:
        assert result["__typename"] == "Gateway", result
