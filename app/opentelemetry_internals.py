"""The one place the service touches OpenTelemetry's non-public names
(DESIGN §1): the OTLP/HTTP span exporter encodes a batch through its
module's global ``encode_spans``, which :func:`use_in_place_encoding`
replaces with app.otlp_encoding's (half the time, the same message). It is
called only when tracing is on, never at import. The exporter is pinned to a
minor range (``~=``) and tests/app/test_opentelemetry_internals.py checks
the name, its signature and that the exporter then sends that encoder's
bytes."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http import trace_exporter

from app.otlp_encoding import encode_spans


def use_in_place_encoding() -> None:
    """The OTLP/HTTP span exporter encodes with app.otlp_encoding."""
    setattr(trace_exporter, "encode_spans", encode_spans)  # noqa: B010 (not exported by name)
