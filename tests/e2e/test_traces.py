"""One change's trace across two real `microgrid serve` processes (DESIGN §8):
both export OTLP/HTTP to a collector stub that keeps the spans in memory; an
ingest on A, a card subscription on B; B's card update links to A's publish."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.serving import cli_together
from tests.e2e.server import serve
from tests.e2e.test_scale_out import CARD_SUB, CREATE, _gql, _shared_redis
from tests.support.otlp_receiver import otlp_receiver
from tests.support.ws import WsClient

pytestmark = pytest.mark.e2e

RECORD = """mutation RecordDer($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""


@dataclass(frozen=True)
class Exported:
    service: str
    name: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    links: tuple[tuple[bytes, bytes], ...]
    attributes: dict[str, Any]
    events: tuple[str, ...]


class Collector:
    """Spans an OTLP/HTTP receiver got, kept in memory."""

    def __init__(self) -> None:
        self.spans: list[Exported] = []
        self.lock = threading.Lock()
        self.url = ""

    def keep(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        Exported(
                            service=resource.get("service.name", ""),
                            name=span.name,
                            trace_id=span.trace_id,
                            span_id=span.span_id,
                            parent_span_id=span.parent_span_id,
                            links=tuple((link.trace_id, link.span_id) for link in span.links),
                            attributes={
                                a.key: a.value.string_value or a.value.int_value
                                for a in span.attributes
                            },
                            events=tuple(event.name for event in span.events),
                        )
                    )
        with self.lock:
            self.spans += found

    def snapshot(self) -> list[Exported]:
        with self.lock:
            return list(self.spans)


@pytest.fixture
def collector() -> Iterator[Collector]:
    stub = Collector()
    with otlp_receiver(stub.keep) as url:
        stub.url = url
        yield stub


def _find(
    collector: Collector, service: str, name: str, seconds: float = 20, **attributes: Any
) -> list[Exported]:
    """Spans of ``service`` so named (and so attributed), once at least one is
    exported: spans are batched and sent as they end."""
    deadline = time.monotonic() + seconds
    while True:
        found = [
            s
            for s in collector.snapshot()
            if s.service == service
            and s.name == name
            and all(s.attributes.get(k) == v for k, v in attributes.items())
        ]
        if found:
            return found
        assert time.monotonic() < deadline, f"no {name!r} span from {service} in {seconds} s"
        time.sleep(0.05)


@pytest.mark.stores("postgresql")
async def test_the_card_update_on_b_links_to_the_publish_of_the_ingest_on_a(
    database_url: str, collector: Collector
) -> None:
    channel = f"test:{uuid.uuid4().hex}"
    env = {
        "REDIS_URL": _shared_redis(),
        "REDIS_CHANNEL": channel,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    admin, ingest = [
        out.strip().splitlines()[-1]
        for out in await cli_together(
            database_url,
            ["tokens", "create", "--role", "admin"],
            ["tokens", "create", "--role", "integration"],
        )
    ]
    with (
        serve(database_url, OTEL_SERVICE_NAME="process-a", **env) as a,
        serve(database_url, OTEL_SERVICE_NAME="process-b", **env) as b,
    ):
        async with httpx.AsyncClient(timeout=10) as http:
            created = (await _gql(http, a.url, admin, CREATE))["createDepot"]
            ws = await WsClient.connect(b.url.removesuffix("/graphql"), admin)
            await ws.subscribe(CARD_SUB, {"depotId": created["depot"]["id"]})
            assert (await ws.data())["microgridCard"]["reason"] == "SNAPSHOT"

            status = {
                "input": {
                    "microgridId": created["microgrid"]["id"],
                    "capability": "DER",
                    "value": True,
                    "observedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "providerEventRef": "traced-across",
                }
            }
            await _gql(http, a.url, ingest, RECORD, status)
            update = (await ws.data(timeout=10))["microgridCard"]
            assert update["reason"] == "CAPABILITY_STATUS"
            await ws.close()

            (request,) = _find(
                collector, "process-a", "POST /graphql", **{"graphql.operation.name": "RecordDer"}
            )
            assert request.events == (f"publish {channel}",), "the publish is an event of it"
            publish = request  # what the notices carry, and the card reads link to

            updates = _find(
                collector,
                "process-b",
                "card update",
                **{"microgrid.card.reason": "CAPABILITY_STATUS"},
            )
            assert [u for u in updates if (publish.trace_id, publish.span_id) in u.links], (
                "B's card update links to A's publish",
                updates,
                publish,
            )
            reads = _find(collector, "process-b", "card read")
            assert [r for r in reads if (publish.trace_id, publish.span_id) in r.links]
