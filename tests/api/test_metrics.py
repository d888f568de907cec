"""/metrics as Prometheus scrapes it: it parses, today's names are there, the
histograms and counters move when operations run, a silent controller's age
grows, hostile operation names add no label values, and the endpoint can be
turned off or moved to a port of its own."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from app.asgi import create_app
from app.container import build_container
from app.settings import Settings
from domain.access import Role
from graphql_documents.operations import operation
from tests.api.helpers import new_depot
from tests.support.live_server import live_server
from tests.support.ws import WsClient

pytestmark = pytest.mark.stores("sqlite", "postgresql")

OLD_NAMES = (
    "microgrid_db_statements_total",
    "microgrid_card_reads_total",
    "microgrid_card_updates_direct_total",
    "microgrid_live_subscriptions",
)
RECORD = """mutation RecordStatus($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""
CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status } } } }"""
DEVICE = """mutation ($depotId: ID!) {
  gw: createGateway(input: {depotId: $depotId, name: "gw"}) { ... on Gateway { id } } }"""
CREATE_DEVICE = """mutation ($input: CreateDeviceInput!) {
  createDevice(input: $input) { ... on Device { id } } }"""
BIND = """mutation ($input: CreateControllerBindingInput!) {
  createControllerBinding(input: $input) { __typename } }"""
INGEST = """mutation ($packet: JSON!) { ingestSensorPacket(packet: $packet) { __typename } }"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, introspection=True, metrics_controller_cache_seconds=0
    )


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient, url: str = "/metrics") -> Samples:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def labelled(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for (n, labels) in samples if n == name and label in dict(labels)}


def _status(microgrid_id: str, at: Any, ref: str) -> dict[str, Any]:
    return {
        "input": {
            "microgridId": microgrid_id,
            "capability": "DER",
            "value": True,
            "observedAt": at.isoformat(),
            "providerEventRef": ref,
        }
    }


async def test_the_endpoint_parses_and_keeps_todays_names(http, admin):
    await new_depot(admin, "Scraped", "Feeder")
    samples = await scrape(http)
    for name in OLD_NAMES:
        assert (name, frozenset()) in samples, name
    assert value(samples, "microgrid_db_statements_total") > 0
    for name in ("microgrid_card_followers", "microgrid_broker_connected"):
        assert (name, frozenset()) in samples, name


async def test_operations_move_the_histograms_and_counters(http, admin, integration, clock):
    depot = await new_depot(admin, "Counted", "Feeder")
    microgrid_id = depot["microgrid"]["id"]
    before = await scrape(http)

    await admin.execute(operation("Depots"))
    observation = _status(microgrid_id, clock.current, "m1")
    await integration.execute(RECORD, observation)
    await integration.execute(RECORD, observation)  # a retry: the same observation
    missing = _status("00000000-0000-0000-0000-000000000000", clock.current, "m2")
    await integration.execute(RECORD, missing)
    after = await scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    count = "microgrid_graphql_operation_seconds_count"
    assert moved(count, operation="Depots", result="ok") == 1
    # Not a document of graphql/operations: counted, under "other".
    assert moved(count, operation="other", result="ok") == 2
    assert moved(count, operation="other", result="NotFound") == 1
    kinds = {"kind": "capability_status"}
    assert moved("microgrid_ingests_total", **kinds, outcome="accepted") == 1
    assert moved("microgrid_ingests_total", **kinds, outcome="duplicate") == 1
    assert moved("microgrid_ingests_total", **kinds, outcome="MICROGRID_NOT_FOUND") == 1
    assert moved("microgrid_ingest_to_publish_seconds_count") == 1
    assert "RecordStatus" not in labelled(after, count, "operation")


async def test_hostile_operation_names_add_no_label_values(http, admin):
    before = labelled(await scrape(http), "microgrid_graphql_operation_seconds_count", "operation")
    for n in range(30):
        name = f"Probe{n}_{'x' * n}"
        await admin.execute(f"query {name} {{ __typename }}")
    await admin.execute("query { __typename }")
    await admin.errors("query Bad { nope }")
    after = await scrape(http)
    count = "microgrid_graphql_operation_seconds_count"
    assert labelled(after, count, "operation") - before <= {"other", "anonymous"}
    assert value(after, count, operation="other", result="ok") == 30
    assert value(after, count, operation="anonymous", result="ok") == 1
    assert value(after, count, operation="other", result="GRAPHQL_VALIDATION_FAILED") == 1


async def test_packets_count_by_action_outcome_and_a_silent_controller_ages(
    http, admin, integration, clock
):
    depot = await new_depot(admin, "Controlled", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    gateway = (await admin.execute(DEVICE, {"depotId": depot_id}))["gw"]["id"]
    device = (
        await admin.execute(
            CREATE_DEVICE, {"input": {"depotId": depot_id, "name": "MGC", "gatewayId": gateway}}
        )
    )["createDevice"]["id"]
    bound = await admin.execute(
        BIND, {"input": {"microgridId": microgrid_id, "deviceId": device, "capabilities": ["DER"]}}
    )
    assert bound["createControllerBinding"]["__typename"] == "ControllerBinding"
    packet = {
        "device_id": device,
        "timestamp": int(clock.current.timestamp() * 1000),
        "manufacturer": "BBA",
        "model": None,
        "serial_number": None,
        "firmware": "1.2",
        "sensors": [
            {"sensor_id": "mgc", "measurands": [{"key": "LIMIT_DER_EXPORT", "value": "true"}]}
        ],
    }
    before = await scrape(http)
    result = await integration.execute(INGEST, {"packet": packet})
    assert result["ingestSensorPacket"]["__typename"] == "SensorPacketIngested"
    reported = await scrape(http)
    labels = {"depot_id": depot_id, "device_id": device}
    age = "microgrid_controller_last_report_age_seconds"
    assert (age, frozenset(labels.items())) in reported
    actions = "microgrid_packet_actions_total"
    applied = {"action": "UPDATE_MICROGRID_STATE", "outcome": "APPLIED"}
    assert value(reported, actions, **applied) - value(before, actions, **applied) == 1
    ingests = {"kind": "sensor_packet", "outcome": "accepted"}
    assert value(reported, "microgrid_ingests_total", **ingests) == 1

    clock.advance(600)
    silent = await scrape(http)
    assert value(silent, age, **labels) >= value(reported, age, **labels) + 600


async def test_a_card_update_observes_its_notice_to_socket_lag(
    container, admin, integration, clock
):
    depot = await new_depot(admin, "Watched", "Feeder")
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    operator = (await container.tokens.issue(Role.OPERATOR, (), clock.now())).token
    async with live_server(container) as url, httpx.AsyncClient(base_url=url) as client:
        ws = await WsClient.connect(url, operator)
        await ws.subscribe(CARD_SUB, {"depotId": depot_id})
        await ws.data()
        before = await scrape(client)
        await integration.execute(RECORD, _status(microgrid_id, clock.current, "lag"))
        assert (await ws.data())["microgridCard"]["reason"] == "CAPABILITY_STATUS"
        after = await scrape(client)
        await ws.close()
        closed = await _until(client, lambda m: value(m, "microgrid_card_subscribers") == 0)
    # A subscription's lifetime is not an operation's latency.
    assert labelled(closed, "microgrid_graphql_operation_seconds_count", "operation") == {
        "CreateDepot",
        "other",
    }
    lag = "microgrid_notice_to_socket_seconds_count"
    assert value(after, lag) - value(before, lag) == 1
    assert value(after, "microgrid_card_followers") == 1
    assert value(after, "microgrid_live_subscriptions") == 1
    assert value(after, "microgrid_card_subscribers") == 1


async def _until(client: httpx.AsyncClient, done: Any, seconds: float = 5) -> Samples:
    """Scrapes until ``done(samples)`` (no event to wait for: poll with a deadline)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        samples = await scrape(client)
        if done(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.02)


@pytest.mark.stores("sqlite")
async def test_scrapes_read_the_controllers_once_per_cache_period(database_url, clock):
    settings = Settings(database_url=database_url, metrics_controller_cache_seconds=60)
    container = build_container(settings, clock)
    sent: list[str] = []
    event.listen(
        container.engine.sync_engine, "before_cursor_execute", lambda *a: sent.append(a[2])
    )
    try:
        transport = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            scrapes = await asyncio.gather(*(client.get("/metrics") for _ in range(5)))
            scrapes.append(await client.get("/metrics"))
    finally:
        await container.close()
    assert [r.status_code for r in scrapes] == [200] * 6
    assert len([s for s in sent if "sensor_actions" in s]) == 1
    assert "microgrid_db_statements_total 0.0" in scrapes[-1].text, "a scrape's own read uncounted"


@pytest.mark.stores("sqlite")
async def test_metrics_can_be_turned_off(database_url, clock):
    container = build_container(Settings(database_url=database_url, metrics_enabled=False), clock)
    try:
        transport = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/metrics")).status_code == 404
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await container.close()


@pytest.mark.stores("sqlite")
async def test_metrics_port_serves_metrics_there_and_not_on_the_main_port(database_url, clock):
    port = _free_port()
    container = build_container(Settings(database_url=database_url, metrics_port=port), clock)
    try:
        async with live_server(container) as url, httpx.AsyncClient() as client:
            assert (await client.get(f"{url}/metrics")).status_code == 404
            own = f"http://127.0.0.1:{port}"
            samples = await scrape(client, f"{own}/metrics")
            assert ("microgrid_db_statements_total", frozenset()) in samples
            assert (await client.get(f"{own}/graphql")).status_code == 404
    finally:
        await container.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
