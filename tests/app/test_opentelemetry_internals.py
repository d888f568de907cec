"""The one non-public OpenTelemetry name the service relies on
(app.opentelemetry_internals): the OTLP/HTTP exporter's module-level
``encode_spans``. If an upgrade renames it, changes its signature or stops
encoding through it, these fail rather than production."""

from __future__ import annotations

import inspect
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as library_encoder,
)
from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind

from app import opentelemetry_internals
from tests.support.otlp_receiver import otlp_receiver

# The exporter calls its module's ``encode_spans``: the name and signature
# use_in_place_encoding() replaces, and proof that the exporter then sends this encoder's bytes.


def test_the_exporter_module_still_encodes_through_the_name_that_is_replaced() -> None:
    assert inspect.signature(trace_exporter.encode_spans).parameters.keys() == {"sdk_spans"}
    assert "encode_spans(" in inspect.getsource(OTLPSpanExporter.export)


def test_once_replaced_the_exporter_sends_what_the_in_place_encoder_makes(monkeypatch) -> None:
    monkeypatch.setattr(trace_exporter, "encode_spans", trace_exporter.encode_spans)
    calls: list[int] = []
    encode = opentelemetry_internals.encode_spans

    def counted(sdk_spans: Any) -> ExportTraceServiceRequest:
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
