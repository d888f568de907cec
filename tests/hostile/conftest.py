"""Fixtures of the hostile suite: a traceback-recording log, an HTTP client that
turns app exceptions into the 500 a real server would send, and one depot with
a bound controller per test, reused by every example."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.asgi import create_app
from app.container import Container
from tests.hostile.invariants import Site, TracebackLog
from tests.support.graphql import GraphQLClient

QUIET_AT_DEBUG = ("aiosqlite", "asyncio", "httpcore", "httpx", "websockets", "hpack")


@pytest.fixture
def log() -> Iterator[TracebackLog]:
    """Every record with a traceback, from any logger, at any level."""
    handler = TracebackLog()
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in QUIET_AT_DEBUG}
    root.setLevel(logging.DEBUG)
    for name in QUIET_AT_DEBUG:
        logging.getLogger(name).setLevel(logging.INFO)
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved[0])
    for name, level in saved[1].items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
async def http(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """Like the shared one, but an exception escaping the app is the 500 a
    client would see, so the invariant names it instead of the test crashing."""
    transport = httpx.ASGITransport(app=create_app(container), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


SETUP = """mutation ($depotId: ID!, $feeder: ID!) {
  gw: createGateway(input: {depotId: $depotId, name: "gw"}) { ... on Gateway { id } }
  bess: createPowerSource(input: {depotId: $depotId, kind: BATTERY, name: "BESS",
    circuitId: $feeder}) { ... on PowerSource { id } }
  child: createCircuit(input: {depotId: $depotId, name: "Child", parentId: $feeder,
    safeCapacityW: 1000}) { ... on CircuitSuccess { circuit { id } } }
}"""
DEVICE = """mutation ($input: CreateDeviceInput!) { createDevice(input: $input) {
  __typename ... on Device { id } } }"""
BIND = """mutation ($input: CreateControllerBindingInput!) {
  createControllerBinding(input: $input) { __typename ... on ControllerBinding { id } } }"""
CONFIGURE = """mutation ($input: ConfigureSensorActionInput!) {
  configureSensorAction(input: $input) { __typename } }"""


@pytest.fixture
async def site(admin: GraphQLClient) -> Site:
    """A depot with a feeder (and a child circuit), a battery on the feeder, a
    controller device bound to both capabilities with every sensor action on."""
    created = await admin.op(
        "CreateDepot",
        input={"name": "Hostile", "topLevelCircuits": [{"name": "Feeder", "safeCapacityW": 5e4}]},
    )
    depot_id = created["depot"]["id"]
    microgrid_id = created["microgrid"]["id"]
    feeder = created["microgrid"]["gridConnections"][0]["circuitId"]
    setup = await admin.execute(SETUP, {"depotId": depot_id, "feeder": feeder})
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
    )["createDevice"]["id"]
    binding = (
        await admin.execute(
            BIND,
            {
                "input": {
                    "microgridId": microgrid_id,
                    "deviceId": device,
                    "capabilities": ["PEAK_SHAVING", "DER"],
                }
            },
        )
    )["createControllerBinding"]
    assert binding["__typename"] == "ControllerBinding", binding
    for action in (
        "UPDATE_POWER_SOURCE_STATE",
        "UPDATE_POWER_SOURCE_LOAD",
        "UPDATE_CIRCUIT_CAPACITY",
    ):
        done = await admin.execute(CONFIGURE, {"input": {"deviceId": device, "type": action}})
        assert done["configureSensorAction"]["__typename"] == "SensorAction", done
    assert admin.token
    return Site(
        depot_id=depot_id,
        microgrid_id=microgrid_id,
        feeder_id=feeder,
        child_id=setup["child"]["circuit"]["id"],
        gateway_id=setup["gw"]["id"],
        device_id=device,
        battery_id=setup["bess"]["id"],
        binding_id=binding["id"],
        token=admin.token,
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing example may hold lone surrogates, which pytest-xdist cannot send
    from a worker (the run would end in an internal error instead of naming the
    example): escape them in the report."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.longrepr is not None:
        text = str(report.longrepr)
        safe = _escaped(text)
        if safe != text:
            report.longrepr = safe
    report.sections = [(title, _escaped(content)) for title, content in report.sections]


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
