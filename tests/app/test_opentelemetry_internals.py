"""What the service relies on that OpenTelemetry does not offer its users
(app.opentelemetry_internals): the OTLP/HTTP exporter's module-level
``encode_spans``, and ``ReadableSpan`` made outside the SDK's tracer. If an
upgrade renames either, changes its signature, stops encoding through the
one or exporting the other as it is made, these fail rather than
production."""

from __future__ import annotations

import inspect
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as library_encoder,
)
from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from app import opentelemetry_internals
from tests.support.otlp_receiver import otlp_receiver

# The exporter calls its module's ``encode_spans``: the name and signature
# use_in_place_encoding() replaces, and proof that the exporter then sends this encoder's bytes.


def test_the_exporter_module_still_encodes_through_the_name_that_is_replaced() -> None:
    assert inspect.signature(trace_exporter.encode_spans).parameters.keys() == {"sdk_spans"}
    source = inspect.getsource(OTLPSpanExporter.export)
    assert "encode_spans(spans).SerializePartialToString()" in source, (
        "the exporter asks the encoded request only for its bytes (otlp_encoding.EncodedRequest)"
    )


def test_once_replaced_the_exporter_sends_what_the_in_place_encoder_makes(monkeypatch) -> None:
    monkeypatch.setattr(trace_exporter, "encode_spans", trace_exporter.encode_spans)
    calls: list[int] = []
    encode = opentelemetry_internals.encode_spans

    def counted(sdk_spans: Any) -> Any:
        calls.append(len(sdk_spans))
        return encode(sdk_spans)

    monkeypatch.setattr(opentelemetry_internals, "encode_spans", counted)
    opentelemetry_internals.use_in_place_encoding()
    span = ReadableSpan(
        name="POST /graphql",
        context=SpanContext(7, 8, False),
        attributes={"http.request.method": "POST"},
        kind=SpanKind.SERVER,
        start_time=1,
        end_time=2,
    )
    received: list[ExportTraceServiceRequest] = []
    with otlp_receiver(received.append) as url:
        exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
        try:
            assert exporter.export([span]) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
    assert calls == [1], "the exporter encoded through app.otlp_encoding"
    assert received == [library_encoder([span])]


def test_a_readable_span_still_takes_what_light_spans_give_it() -> None:
    parameters = inspect.signature(ReadableSpan.__init__).parameters
    given = inspect.signature(opentelemetry_internals.readable_span).parameters
    assert set(given) <= set(parameters), "ReadableSpan no longer takes these by name"
    span = opentelemetry_internals.readable_span(
        name="POST /graphql",
        context=SpanContext(7, 8, False),
        parent=None,
        resource=Resource({"service.name": "s"}),
        attributes={"http.request.method": "POST"},
        events=[Event("publish", {"n": 1}, 5)],
        links=(),
        kind=SpanKind.SERVER,
        status=Status(StatusCode.ERROR, "x"),
        start_time=1,
        end_time=2,
        instrumentation_scope=InstrumentationScope("microgrid.http"),
    )
    assert (span.name, span.kind, span.start_time, span.end_time) == (
        "POST /graphql",
        SpanKind.SERVER,
        1,
        2,
    )
    assert dict(span.attributes) == {"http.request.method": "POST"}
    assert [(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events] == [
        ("publish", {"n": 1}, 5)
    ]
    assert span.status.status_code is StatusCode.ERROR and span.status.description == "x"
    assert span.resource.attributes["service.name"] == "s"
    assert span.instrumentation_scope == InstrumentationScope("microgrid.http")
