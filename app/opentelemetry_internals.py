"""The one place the service leans on what OpenTelemetry does not offer its
users (DESIGN §1), each only when tracing is on, never at import:

- the OTLP/HTTP span exporter encodes a batch through its module's global
  ``encode_spans``, which :func:`use_in_place_encoding` replaces with
  app.otlp_encoding's (half the time, the same message);
- the SDK's ``ReadableSpan`` is public, but its docstring says spans should
  come from the SDK's tracer; :func:`readable_span` makes one from
  app.light_spans' plain request spans.

The libraries are pinned to a minor range (``~=``) and
tests/app/test_opentelemetry_internals.py checks the names, their
signatures and that the exporter then sends that encoder's bytes."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status
from opentelemetry.util.types import AttributeValue

from app.otlp_encoding import encode_spans


def use_in_place_encoding() -> None:
    """The OTLP/HTTP span exporter encodes with app.otlp_encoding."""
    setattr(trace_exporter, "encode_spans", encode_spans)  # noqa: B010 (not exported by name)


def readable_span(
    *,
    name: str,
    context: SpanContext,
    parent: SpanContext | None,
    resource: Resource,
    attributes: dict[str, AttributeValue],
    events: Sequence[Event],
    links: Sequence[Link],
    kind: SpanKind,
    status: Status,
    start_time: int,
    end_time: int,
    instrumentation_scope: InstrumentationScope,
) -> ReadableSpan:
    """An ended span for the SDK's span processors, as its tracer makes them."""
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=kind,
        status=status,
        start_time=start_time,
        end_time=end_time,
        instrumentation_scope=instrumentation_scope,
    )
