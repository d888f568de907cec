"""Spans encoded for OTLP export in place: the same message as the
exporter's own encoder (``encode_spans`` of
``opentelemetry-exporter-otlp-proto-common``), built in half the time.

That encoder builds every span, attribute and value as a message of its
own and then hands lists of them to their parents, which copies each one
again (the protobuf runtime copies a message assigned into a repeated
field), a copy per level. This one fills the request from the top down
(``add()`` on each repeated field), so each value is written once. A traced
ingest request exports one span; encoding it was most of what exporting
cost (bench/README.md, "Issue 17").

The exporter is handed it by app.opentelemetry_internals (the one
non-public name involved); tests/app/test_otlp_encoding.py checks that this
encoder's message equals the library's for generated spans of every shape."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind

log = logging.getLogger(__name__)

_KINDS = {
    SpanKind.INTERNAL: 1,
    SpanKind.SERVER: 2,
    SpanKind.CLIENT: 3,
    SpanKind.PRODUCER: 4,
    SpanKind.CONSUMER: 5,
}
_HAS_IS_REMOTE = SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK


def _fill_value(target: AnyValue, value: Any) -> None:
    """``value`` into ``target``, as the library's ``_encode_value`` would."""
    if value is None:
        return
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, bytes):
        target.bytes_value = value
    elif isinstance(value, Sequence):
        items = target.array_value.values
        target.array_value.SetInParent()
        for item in value:
            _fill_value(items.add(), item)
    elif isinstance(value, Mapping):
        target.kvlist_value.SetInParent()
        _fill_attributes(target.kvlist_value.values, value, keys=str)
    else:
        raise TypeError(f"Invalid type {type(value)} of value {value}")


def _fill_attributes(target: Any, attributes: Mapping[Any, Any] | None, keys: Any = None) -> None:
    """Each pair into ``target`` (a repeated KeyValue); a value of no OTLP
    type is left out and logged, as the library's encoder does."""
    if not attributes:
        return
    for key, value in attributes.items():
        pair = target.add()
        try:
            pair.key = keys(key) if keys is not None else key
            pair.value.SetInParent()
            _fill_value(pair.value, value)
        except Exception as error:  # the library's behaviour: skip the pair
            del target[len(target) - 1]
            log.exception("Failed to encode key %s: %s", key, error)


def _flags(parent: SpanContext | None) -> int:
    remote = parent is not None and parent.is_remote
    return _HAS_IS_REMOTE | _IS_REMOTE if remote else _HAS_IS_REMOTE


def _fill_span(target: Any, span: ReadableSpan) -> None:
    context = span.context
    assert context is not None, "a finished SDK span has its context"
    target.trace_id = context.trace_id.to_bytes(16, "big")
    target.span_id = context.span_id.to_bytes(8, "big")
    if context.trace_state is not None:
        target.trace_state = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
    parent = span.parent
    if parent:
        target.parent_span_id = parent.span_id.to_bytes(8, "big")
    target.name = span.name
    target.kind = _KINDS[span.kind]
    if span.start_time is not None:
        target.start_time_unix_nano = span.start_time
    if span.end_time is not None:
        target.end_time_unix_nano = span.end_time
    _fill_attributes(target.attributes, span.attributes)
    for event in span.events:
        encoded = target.events.add()
        encoded.name = event.name
        encoded.time_unix_nano = event.timestamp
        _fill_attributes(encoded.attributes, event.attributes)
        encoded.dropped_attributes_count = event.dropped_attributes
    for link in span.links:
        encoded_link = target.links.add()
        encoded_link.trace_id = link.context.trace_id.to_bytes(16, "big")
        encoded_link.span_id = link.context.span_id.to_bytes(8, "big")
        _fill_attributes(encoded_link.attributes, link.attributes)
        encoded_link.dropped_attributes_count = link.dropped_attributes
        encoded_link.flags = _flags(link.context)
    status = span.status
    if status is not None:
        target.status.SetInParent()
        target.status.code = status.status_code.value
        if status.description is not None:
            target.status.message = status.description
    target.dropped_attributes_count = span.dropped_attributes
    target.dropped_events_count = span.dropped_events
    target.dropped_links_count = span.dropped_links
    target.flags = _flags(parent)


def _fill_scope(target: Any, scope: InstrumentationScope | None) -> None:
    target.SetInParent()
    if scope is None:
        return
    target.name = scope.name
    if scope.version is not None:
        target.version = scope.version
    _fill_attributes(target.attributes, scope.attributes)


def encode_spans(sdk_spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The export request for ``sdk_spans``: by resource, then by
    instrumentation scope, in the order first seen."""
    groups: dict[Any, dict[Any, list[ReadableSpan]]] = {}
    for span in sdk_spans:
        scope = span.instrumentation_scope or None
        groups.setdefault(span.resource, {}).setdefault(scope, []).append(span)
    request = ExportTraceServiceRequest()
    for resource, scopes in groups.items():
        resource_spans = request.resource_spans.add()
        resource_spans.resource.SetInParent()
        _fill_attributes(resource_spans.resource.attributes, resource.attributes)
        if resource.schema_url:
            resource_spans.schema_url = resource.schema_url
        for scope, spans in scopes.items():
            scope_spans = resource_spans.scope_spans.add()
            _fill_scope(scope_spans.scope, scope)
            if scope is not None and scope.schema_url:
                scope_spans.schema_url = scope.schema_url
            for span in spans:
                _fill_span(scope_spans.spans.add(), span)
    return request
