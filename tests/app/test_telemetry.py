"""Tracing (DESIGN §8): one trace follows a change from the ingest request to
the card update it caused, through a span link carried in the notice; with
OTEL_EXPORTER_OTLP_ENDPOINT unset, nothing of it is wired in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from uuid import uuid4

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import event
from starlette.websockets import WebSocketState

from app.access_log import AccessLog
from app.asgi import create_app
from app.broker import Hub, InProcessBroker, TracedChange, decode, encode
from app.container import Container, build_container
from app.graphql_view import MicrogridGraphQL
from app.revocation import RevocationWatch
from app.settings import Settings
from app.telemetry import Telemetry, service_resource
from app.trace_operations import OperationSpans
from app.trace_requests import RequestSpans
from app.trace_statements import summarize, tallied
from domain.access import Role
from domain.changes import Change, ChangeReason
from tests.support.clock import FakeClock
from tests.support.live_server import live_server
from tests.support.ws import WsClient

CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status } } } }"""
CREATE = """mutation { createDepot(input: {name: "Traced", topLevelCircuits: [{name: "F"}]}) {
  ... on CreateDepotSuccess { depot { id } microgrid { id } } } }"""
RECORD = """mutation RecordDer($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _off(settings: Settings) -> Settings:
    return settings.model_copy(update={"otel_exporter_otlp_endpoint": None})


async def test_with_tracing_off_nothing_is_wired_in(settings: Settings, clock: FakeClock) -> None:
    container = build_container(_off(settings), clock=clock)
    try:
        assert container.telemetry is None
        app = create_app(container)
        assert [m.cls for m in app.user_middleware] == [AccessLog], "no tracing middleware"
        view = MicrogridGraphQL(container)
        assert not [e for e in view.schema.get_extensions() if isinstance(e, OperationSpans)]
        publisher = container.deps.uow.publisher  # type: ignore[attr-defined]
        assert publisher._broker is container.broker, "the broker, timed only (metrics)"
        assert container.card_followers._tracing is None
    finally:
        await container.close()


async def test_with_tracing_on_the_app_schema_publisher_and_followers_are_traced(
    settings: Settings, clock: FakeClock
) -> None:
    telemetry = Telemetry(SimpleSpanProcessor(InMemorySpanExporter()))
    container = build_container(_off(settings), clock=clock, telemetry=telemetry)
    try:
        app = create_app(container)
        assert [m.cls for m in app.user_middleware] == [RequestSpans, AccessLog]
        view = MicrogridGraphQL(container)
        assert [e for e in view.schema.get_extensions() if isinstance(e, OperationSpans)]
        publisher = container.deps.uow.publisher  # type: ignore[attr-defined]
        assert publisher._broker is not container.broker, "the broker, traced"
        assert container.card_followers._tracing is telemetry
    finally:
        await container.close()


@pytest.mark.stores("sqlite")
async def test_statement_tallies_can_be_turned_off_the_standard_way(
    settings: Settings, clock: FakeClock, monkeypatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "redis, sqlalchemy")
    exporter = InMemorySpanExporter()
    telemetry = Telemetry(SimpleSpanProcessor(exporter))
    container = build_container(_off(settings), clock=clock, telemetry=telemetry)
    try:
        with telemetry.tracer.start_as_current_span("issuing") as span, tallied(span):
            await container.tokens.issue(Role.ADMIN, (), clock.now())
        (issuing,) = exporter.get_finished_spans()
        assert "microgrid.db.statements" not in (issuing.attributes or {}), "no statement tally"
    finally:
        await container.close()


def test_the_service_is_named_unless_the_environment_names_it(monkeypatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert service_resource().attributes["service.name"] == "depot-microgrid-service"
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,depot.site=x")
    assert service_resource().attributes["service.name"] == "from-attributes"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-name")
    resource = service_resource()
    assert resource.attributes["service.name"] == "from-name"
    assert resource.attributes["depot.site"] == "x"


@pytest.mark.parametrize("value", ["true", " TRUE "])
def test_the_sdks_own_off_switch_turns_tracing_off(monkeypatch, value: str) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", value)
    assert Telemetry.from_environment("http://collector:4318") is None
    monkeypatch.setenv("OTEL_SDK_DISABLED", "false")
    on = Telemetry.from_environment("http://collector:4318")
    assert on is not None
    on.provider.shutdown()


def test_an_empty_endpoint_means_off_and_a_bad_one_is_refused() -> None:
    assert Settings(otel_exporter_otlp_endpoint="").otel_exporter_otlp_endpoint == ""
    with pytest.raises(ValueError):
        Settings(otel_exporter_otlp_endpoint="collector:4318")


# The notice's trace context on the wire: carried, and never in the way.


def test_a_notice_carries_its_trace_context_and_one_without_is_as_before() -> None:
    plain = Change(uuid4(), ChangeReason.CAPABILITY_STATUS, 3, uuid4())
    assert "tc" not in json.loads(encode(plain))
    assert decode(encode(plain)) == plain
    traced = TracedChange(plain.microgrid_id, plain.reason, 3, plain.event_id, TRACEPARENT)
    assert json.loads(encode(traced))["tc"] == TRACEPARENT
    assert decode(encode(traced)) == traced


class _Collected:
    def __init__(self) -> None:
        self.sent: list[Change] = []

    async def publish(self, changes: list[Change]) -> None:
        self.sent.extend(changes)


@settings(max_examples=60, deadline=None)
@given(
    trace_id=st.integers(1, 2**128 - 1),
    span_id=st.integers(1, 2**64 - 1),
    flags=st.sampled_from([0x01, 0x03]),
)
async def test_a_published_notice_carries_what_the_w3c_propagator_would_inject(
    trace_id: int, span_id: int, flags: int
) -> None:
    telemetry = Telemetry(SimpleSpanProcessor(InMemorySpanExporter()))
    inner = _Collected()
    publisher = telemetry.publisher(inner, "microgrid", "redis")
    span = _RecordingSpan(SpanContext(trace_id, span_id, False, TraceFlags(flags)))
    change = Change(uuid4(), ChangeReason.CAPABILITY_STATUS, 3, uuid4())
    with trace.use_span(span):
        await publisher.publish([change])
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
    (sent,) = inner.sent
    assert isinstance(sent, TracedChange) and sent.traceparent == carrier["traceparent"]
    assert [name for name, _ in span.events] == ["publish microgrid"]


class _RecordingSpan(NonRecordingSpan):
    """A recording span with a given context, that keeps its events."""

    def __init__(self, context: SpanContext) -> None:
        super().__init__(context)
        self.events: list[tuple[str, object]] = []

    def is_recording(self) -> bool:
        return True

    def add_event(self, name: str, attributes: object = None, timestamp: object = None) -> None:
        self.events.append((name, attributes))


@pytest.mark.parametrize(
    "tc", [None, 42, ["00"], {"a": 1}, "", "x" * 129, "not-a-traceparent", "00-zz-yy-01"]
)
def test_a_notice_with_a_missing_or_hostile_trace_context_is_still_a_notice(tc: object) -> None:
    microgrid_id = uuid4()
    raw = json.dumps(
        {"m": str(microgrid_id), "r": "CAPABILITY_STATUS", "v": 4, "e": None, "tc": tc}
    )
    notice = decode(raw)
    assert (notice.microgrid_id, notice.revision) == (microgrid_id, 4)
    telemetry = Telemetry(SimpleSpanProcessor(InMemorySpanExporter()))
    assert telemetry.published_by([notice]) == (), "no link from a context that is not one"


async def test_the_in_process_broker_carries_the_context_too() -> None:
    exporter = InMemorySpanExporter()
    telemetry = Telemetry(SimpleSpanProcessor(exporter))
    hub = Hub()
    publisher = telemetry.publisher(InProcessBroker(hub), "changes", "in-process")
    microgrid_id = uuid4()
    async with hub.subscribe(microgrid_id) as subscription:
        await publisher.publish([Change(microgrid_id, ChangeReason.CAPABILITY_STATUS, 1)])
        notice = await asyncio.wait_for(subscription.next(), 1)
    (publish,) = exporter.get_finished_spans()
    assert publish.kind is SpanKind.PRODUCER
    (link,) = telemetry.published_by([notice])
    assert (link.context.trace_id, link.context.span_id) == (
        publish.context.trace_id,
        publish.context.span_id,
    )


# One change, one trace, in process.


def _named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def _spans_until(
    exporter: InMemorySpanExporter, done: object, seconds: float = 5
) -> list[ReadableSpan]:
    """The finished spans once ``done(spans)`` holds (spans end as their work does)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        spans = list(exporter.get_finished_spans())
        if done(spans):  # type: ignore[operator]
            return spans
        assert loop.time() < deadline, [s.name for s in spans]
        await asyncio.sleep(0.02)


@pytest.fixture
async def traced(
    settings: Settings, clock: FakeClock
) -> AsyncIterator[tuple[Container, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    container = build_container(
        _off(settings), clock=clock, telemetry=Telemetry(SimpleSpanProcessor(exporter))
    )
    yield container, exporter
    await container.close()


@pytest.mark.stores("sqlite", "postgresql")
async def test_the_card_update_links_to_the_publish_of_the_ingest_request(
    traced, store: str
) -> None:
    container, exporter = traced
    now = container.deps.clock.now()
    admin = (await container.tokens.issue(Role.ADMIN, (), now)).token
    async with live_server(container) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        headers = {"Authorization": f"Bearer {admin}"}
        created = (await http.post("/graphql", json={"query": CREATE}, headers=headers)).json()
        depot = created["data"]["createDepot"]
        ws = await WsClient.connect(url, admin)
        await ws.subscribe(CARD_SUB, {"depotId": depot["depot"]["id"]})
        assert (await ws.data())["microgridCard"]["reason"] == "SNAPSHOT"
        exporter.clear()

        status = {
            "microgridId": depot["microgrid"]["id"],
            "capability": "DER",
            "value": True,
            "observedAt": now.isoformat(),
            "providerEventRef": "traced-1",
        }
        answer = await http.post(
            "/graphql", json={"query": RECORD, "variables": {"input": status}}, headers=headers
        )
        assert answer.json()["data"]["recordCapabilityStatus"]["__typename"] == (
            "CapabilityStatusRecorded"
        )
        update = (await ws.data())["microgridCard"]
        assert update["card"]["der"]["status"] == "ON"
        await ws.close()
        spans = await _spans_until(
            exporter,
            lambda s: _named(s, "card update") and _named(s, "POST /graphql"),
        )

    (request,) = _named(spans, "POST /graphql")
    assert request.kind is SpanKind.SERVER
    assert not [s for s in spans if s.name.startswith("publish ")], "no span of its own"
    (publish,) = [e for e in request.events if e.name.startswith("publish ")]
    assert (publish.attributes or {})["messaging.batch.message_count"] == 1
    assert not [s for s in spans if s.name.startswith("GraphQL Resolving")], "no field spans"
    assert not [s for s in spans if s.kind is SpanKind.CLIENT and s.name.startswith("connect")]
    described = request.attributes or {}
    assert described["graphql.operation.name"] == "RecordDer", "the operation is the request's"
    assert described["graphql.operation.type"] == "mutation"
    in_request = [s for s in spans if s.context.trace_id == request.context.trace_id]
    assert not [s for s in in_request if s.name.startswith("GraphQL")], "no span of its own"
    (subscription,) = [s for s in spans if s.name == "GraphQL Query"]
    assert (subscription.attributes or {})["graphql.operation.type"] == "subscription", (
        "an operation on a WebSocket is a span of its own"
    )
    summaries = str(described["microgrid.db.summaries"]).split(", ")
    assert described["microgrid.db.statements"] == len(summaries) > 0, summaries
    assert [s for s in summaries if s.startswith("INSERT ")], summaries

    (read,) = [s for s in _named(spans, "card read") if s.links]
    (card_update,) = _named(spans, "card update")
    for span in (read, card_update):
        (link,) = span.links
        assert (link.context.trace_id, link.context.span_id) == (
            request.context.trace_id,
            request.context.span_id,
        ), "the link leads to the ingest request that published the change"
    assert card_update.parent is not None and card_update.parent.span_id == read.context.span_id
    assert card_update.attributes is not None
    assert card_update.attributes["microgrid.card.reason"] == "CAPABILITY_STATUS"
    read_summaries = str((read.attributes or {})["microgrid.db.summaries"])
    assert "SELECT microgrids" in read_summaries, (
        "the card read's SQL statements are summed onto it"
    )


@pytest.mark.stores("sqlite")
async def test_statements_outside_a_recorded_span_make_nothing(traced) -> None:
    container, exporter = traced
    await container.tokens.issue(Role.ADMIN, (), container.deps.clock.now())
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("statement", "summary"),
    [
        ("SELECT a FROM microgrids WHERE id = $1", ("SELECT", "SELECT microgrids")),
        ('INSERT INTO "cards" (a) VALUES (1)', ("INSERT", "INSERT cards")),
        ("update depots set x = 1", ("UPDATE", "UPDATE depots")),
        ("  commit", ("COMMIT", "COMMIT")),
        ("", ("SQL", "SQL")),
    ],
)
def test_a_statement_is_named_by_its_operation_and_first_table(
    statement: str, summary: tuple[str, str]
) -> None:
    assert summarize(statement) == summary


async def test_a_periodic_check_started_by_a_socket_is_not_that_sockets_work(traced) -> None:
    """The revocation sweep starts with the first socket but serves every
    socket: its statements are not counted onto the first one's span."""
    container, exporter = traced
    token = await container.tokens.issue(Role.OPERATOR, (), container.deps.clock.now())
    socket = SimpleNamespace(
        application_state=WebSocketState.CONNECTED, client_state=WebSocketState.CONNECTED
    )
    watch = RevocationWatch(container.engine, container.deps.clock, period=0.01)
    sweeps: list[object] = []
    event.listen(container.engine.sync_engine, "before_cursor_execute", lambda *a: sweeps.append(a))
    tracer = container.telemetry.tracer  # type: ignore[union-attr]
    try:
        with tracer.start_as_current_span("WebSocket /graphql") as span, tallied(span):
            watch.watch(socket, token.id)  # type: ignore[arg-type]
            while len(sweeps) < 3:
                await asyncio.sleep(0.01)
    finally:
        await watch.stop()
    (connection,) = _named(list(exporter.get_finished_spans()), "WebSocket /graphql")
    assert "microgrid.db.statements" not in (connection.attributes or {})
