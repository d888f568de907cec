"""ingestSensorPackets over HTTP: a gateway's buffer in one request, and what
hostile batches get back (typed answers, nothing half-written)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_sensor_api import CONFIGURE, PACKETS, _packet, _site

INGEST_MANY = """mutation ($packets: [JSON!]!) { ingestSensorPackets(packets: $packets) {
  __typename
  ... on SensorPacketsIngested { accepted refused results {
    __typename
    ... on SensorPacketIngested { packetId outcomes { action outcome code } }
    ... on NotFound { code }
    ... on ValidationFailed { fieldErrors { field code } } } }
  ... on ValidationFailed { code fieldErrors { field code } } } }"""


async def _load_site(admin):
    depot, device_id, _bess, _feeder = await _site(admin)
    configured = await admin.execute(
        CONFIGURE,
        {"input": {"deviceId": device_id, "type": "UPDATE_POWER_SOURCE_LOAD", "enabled": True}},
    )
    assert configured["configureSensorAction"]["__typename"] == "SensorAction"
    return depot, device_id


async def test_a_buffer_in_one_request_each_packet_answered_in_order(admin, integration, clock):
    _depot, device_id = await _load_site(admin)
    ts = int(clock.current.timestamp() * 1000)
    packets = [
        _packet(device_id, ts, ("TOTAL_POWER_LOAD", 900)),
        _packet(device_id, ts - 1000, ("TOTAL_POWER_LOAD", 800)),
        _packet(device_id, ts, ("TOTAL_POWER_LOAD", "lots")),
        _packet("00000000-0000-4000-8000-000000000000", ts, ("TOTAL_POWER_LOAD", 1)),
    ]

    answer = (await integration.execute(INGEST_MANY, {"packets": packets}))["ingestSensorPackets"]

    assert answer["__typename"] == "SensorPacketsIngested"
    assert (answer["accepted"], answer["refused"]) == (2, 2)
    newest, older, wrong, unknown = answer["results"]
    # The older one, sent second, was applied first: both applied, in time order.
    assert [o["code"] for o in newest["outcomes"]] == ["APPLIED"]
    assert [o["code"] for o in older["outcomes"]] == ["APPLIED"]
    assert wrong == {
        "__typename": "ValidationFailed",
        "fieldErrors": [{"field": "packet.sensors[0].measurands[0].value", "code": "WRONG_TYPE"}],
    }
    assert unknown == {"__typename": "NotFound", "code": "DEVICE_NOT_FOUND"}
    kept = (await admin.execute(PACKETS, {"deviceId": device_id}))["sensorPackets"]["edges"]
    assert {e["node"]["id"] for e in kept} == {newest["packetId"], older["packetId"]}


async def test_an_operator_may_not_ingest_a_batch(admin, operator, clock):
    _depot, device_id = await _load_site(admin)
    ts = int(clock.current.timestamp() * 1000)
    errors = await operator.errors(INGEST_MANY, {"packets": [_packet(device_id, ts)]})
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_hostile_batches_get_typed_answers_and_write_nothing(admin, integration, clock):
    _depot, device_id = await _load_site(admin)
    ts = int(clock.current.timestamp() * 1000)
    small = _packet(device_id, ts, ("TOTAL_POWER_LOAD", 1))

    too_many = (await integration.execute(INGEST_MANY, {"packets": [small] * 101}))[
        "ingestSensorPackets"
    ]
    assert too_many == {
        "__typename": "ValidationFailed",
        "code": "VALIDATION_FAILED",
        "fieldErrors": [{"field": "packets", "code": "TOO_MANY_PACKETS"}],
    }
    far_too_many = await integration.raw(INGEST_MANY, {"packets": [1] * 1001})
    assert far_too_many.json()["errors"][0]["extensions"]["code"] == "LIST_TOO_LONG"
    nested: object = "deep"
    for _ in range(40):
        nested = [nested]
    too_deep = await integration.raw(INGEST_MANY, {"packets": [nested]})
    assert too_deep.status_code == 400
    assert too_deep.json()["errors"][0]["extensions"]["code"] == "JSON_TOO_DEEP"
    nested = {"device_id": {"a": [[[{"b": [[[[1]]]]}]]]}}
    huge = _packet(device_id, ts, *[("X_PAD", "x" * 200) for _ in range(64)])
    huge["sensors"] += [{"sensor_id": f"s{i}", "measurands": []} for i in range(40)]
    junk = [nested, huge, {"device_id": {"$ne": None}}, "", 7, [small]]
    answer = (await integration.execute(INGEST_MANY, {"packets": junk}))["ingestSensorPackets"]
    assert (answer["accepted"], answer["refused"]) == (0, len(junk))
    assert {r["__typename"] for r in answer["results"]} == {"ValidationFailed"}
    kept = (await admin.execute(PACKETS, {"deviceId": device_id}))["sensorPackets"]["edges"]
    assert kept == []
    with_null = await integration.raw(INGEST_MANY, {"packets": [small, None]})
    assert with_null.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


junk_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(junk_json.filter(lambda v: v is not None), max_size=8))
async def test_any_json_batch_is_answered_per_packet(integration, batch):
    """Any JSON but null (a GraphQL validation error: the packets are JSON!)."""
    answer = (await integration.execute(INGEST_MANY, {"packets": batch}))["ingestSensorPackets"]
    assert answer["__typename"] == "SensorPacketsIngested"
    assert len(answer["results"]) == len(batch)
    assert answer["refused"] == len(batch)
