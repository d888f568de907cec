"""The one non-public OpenTelemetry name the service relies on
(app.opentelemetry_internals): the OTLP/HTTP exporter's module-level
``encode_spans``. If an upgrade renames it, changes its signature or stops
encoding through it, these fail rather than production."""

from __future__ import annotations

import gzip
import inspect
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
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

# The exporter calls its module's ``encode_spans``: the name and signature
# use_in_place_encoding() replaces, and proof that the exporter then sends this encoder's bytes.


def test_the_exporter_module_still_encodes_through_the_name_that_is_replaced() -> None:
    assert inspect.signature(trace_exporter.encode_spans).parameters.keys() == {"sdk_spans"}
    assert "encode_spans(" in inspect.getsource(OTLPSpanExporter.export)


class _Receiver:
    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_once_replaced_the_exporter_sends_what_the_in_place_encoder_makes(
    receiver, monkeypatch
) -> None:
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
    exporter = OTLPSpanExporter(endpoint=receiver.url)
    try:
        assert exporter.export([span]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert calls == [1], "the exporter encoded through app.otlp_encoding"
    (body,) = receiver.bodies
    assert ExportTraceServiceRequest.FromString(body) == library_encoder([span])
