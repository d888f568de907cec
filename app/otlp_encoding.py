"""Spans encoded for OTLP export straight to protobuf's wire format: the
bytes the exporter's own encoder (``encode_spans`` of
``opentelemetry-exporter-otlp-proto-common``) serializes to, byte for byte,
in a fifth of the time.

That encoder builds every span, attribute and value as a protobuf message
of its own and hands lists of them to their parents, which copies each one
again, a copy per level, and only then serializes the lot. This one writes
each field's bytes once, innermost first (a length-delimited field needs
its length before its bytes), from a handful of tag constants. A traced
ingest request exports one span; encoding it was most of what exporting
cost (bench/README.md, "Issue 17").

What the exporter calls on the result is ``SerializePartialToString()``,
which :class:`EncodedRequest` answers with those bytes. The exporter is
handed the encoder by app.opentelemetry_internals (the one non-public name
involved); tests/app/test_otlp_encoding.py checks that the bytes equal the
library's for generated spans of every shape, values that protobuf refuses
included."""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

log = logging.getLogger(__name__)

_KINDS = {kind.value: b"\x30" + bytes([kind.value + 1]) for kind in SpanKind}
"""Span.kind (field 6, varint) by the SDK kind's value (OTLP counts from 1).
Looked up by ``_value_``: an enum member's hash and ``value`` are Python calls."""
_LOCAL_FLAGS = b"\x85\x01" + struct.pack("<I", 0x100)
_REMOTE_FLAGS = b"\x85\x01" + struct.pack("<I", 0x300)
"""Span.flags (field 16, fixed32): SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE, and IS_REMOTE."""
_LINK_LOCAL_FLAGS = b"\x35" + struct.pack("<I", 0x100)
_LINK_REMOTE_FLAGS = b"\x35" + struct.pack("<I", 0x300)
"""Link.flags (field 6, fixed32), the same bits."""
_SMALL = [bytes([n]) for n in range(128)]
PAIR_CACHE = 4096
"""Encoded attribute pairs kept (cleared when full)."""
CACHED_PAIR_BYTES = 4096
"""The longest encoded pair kept."""
_PLAIN = (str, int)
"""Exact types only: ``True == 1``, so a bool must never find an int's bytes."""
_pairs: dict[tuple[bytes, str, str | int], bytes] = {}
_INT64 = range(-(2**63), 2**63)
_UINT64 = 2**64


def _varint(number: int) -> bytes:
    if number < 128:
        return _SMALL[number]
    out = bytearray()
    while number > 127:
        out.append(number & 127 | 128)
        number >>= 7
    out.append(number)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length and the payload."""
    size = len(payload)
    return tag + (_SMALL[size] if size < 128 else _varint(size)) + payload


def _text(text: str) -> bytes:
    """A span's, an event's or a status's own text as UTF-8; a lone surrogate
    (an exception's message may quote a client's JSON ``"\\ud800"``) becomes
    ``?``. The library's encoder raises there, and the whole batch, every
    other request's spans with it, is not sent."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _value(value: Any) -> bytes:
    """An AnyValue's bytes, as the library's ``_encode_value`` fills it; a
    value protobuf would refuse raises, as it would."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, int):
        if value not in _INT64:
            raise ValueError(f"Value out of range: {value}")
        return b"\x18" + _varint(value % _UINT64)
    if isinstance(value, float):
        return b"\x21" + struct.pack("<d", value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _value(item)) for item in value]))
    if isinstance(value, Mapping):  # a pair it refuses refuses the whole value
        return _field(
            b"\x32", b"".join([_field(b"\x0a", _pair(str(k), v)) for k, v in value.items()])
        )
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _pair(key: Any, value: Any) -> bytes:
    """A KeyValue's bytes."""
    if not isinstance(key, str):
        raise TypeError(f"{key!r} has type {type(key).__name__}, but expected str")
    return (_field(b"\x0a", key.encode()) if key else b"") + _field(b"\x12", _value(value))


def _attributes(tag: bytes, attributes: Mapping[Any, Any] | None) -> bytes:
    """Each pair as a KeyValue field ``tag``; a pair whose key or value
    protobuf would refuse is left out and logged, as the library's encoder
    leaves it out. A plain pair (a string key, a string or integer value) is
    encoded once and then taken from PAIR_CACHE: spans of one kind repeat
    most of their attributes."""
    if not attributes:
        return b""
    out = []
    cache = _pairs
    for key, value in attributes.items():
        plain = type(key) is str and type(value) in _PLAIN
        if plain:
            found = cache.get((tag, key, value))
            if found is not None:
                out.append(found)
                continue
        try:
            encoded = _field(tag, _pair(key, value))
        except Exception as error:
            log.exception("Failed to encode key %r: %s", key, error)
            continue
        out.append(encoded)
        if plain and len(encoded) <= CACHED_PAIR_BYTES:
            if len(cache) >= PAIR_CACHE:
                cache.clear()
            cache[tag, key, value] = encoded
    return b"".join(out)


def _span(span: ReadableSpan) -> bytes:
    context = span.context
    assert context is not None, "a finished SDK span has its context"
    out = [
        b"\x0a\x10",
        context.trace_id.to_bytes(16, "big"),
        b"\x12\x08",
        context.span_id.to_bytes(8, "big"),
    ]
    if context.trace_state:
        out.append(
            _field(b"\x1a", ",".join(f"{k}={v}" for k, v in context.trace_state.items()).encode())
        )
    parent = span.parent
    if parent:
        out += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
    if span.name:
        out.append(_field(b"\x2a", _text(span.name)))
    out.append(_KINDS[span.kind._value_])
    if span.start_time:
        out += (b"\x39", struct.pack("<Q", span.start_time))
    if span.end_time:
        out += (b"\x41", struct.pack("<Q", span.end_time))
    out.append(_attributes(b"\x4a", span.attributes))
    if span.dropped_attributes:
        out += (b"\x50", _varint(span.dropped_attributes))
    for event in span.events:
        encoded = [b"\x09", struct.pack("<Q", event.timestamp)] if event.timestamp else []
        if event.name:
            encoded.append(_field(b"\x12", _text(event.name)))
        encoded.append(_attributes(b"\x1a", event.attributes))
        if event.dropped_attributes:
            encoded += (b"\x20", _varint(event.dropped_attributes))
        out.append(_field(b"\x5a", b"".join(encoded)))
    if span.dropped_events:
        out += (b"\x60", _varint(span.dropped_events))
    for link in span.links:
        encoded = [
            b"\x0a\x10", link.context.trace_id.to_bytes(16, "big"),
            b"\x12\x08", link.context.span_id.to_bytes(8, "big"),
            _attributes(b"\x22", link.attributes),
        ]  # fmt: skip
        if link.dropped_attributes:
            encoded += (b"\x28", _varint(link.dropped_attributes))
        encoded.append(_LINK_REMOTE_FLAGS if link.context.is_remote else _LINK_LOCAL_FLAGS)
        out.append(_field(b"\x6a", b"".join(encoded)))
    if span.dropped_links:
        out += (b"\x70", _varint(span.dropped_links))
    status = span.status
    if status is not None:
        encoded = []
        if status.description:
            encoded.append(_field(b"\x12", _text(status.description)))
        code: int = status.status_code._value_
        if code:
            encoded.append(b"\x18" + _varint(code))
        out.append(_field(b"\x7a", b"".join(encoded)))
    out.append(_REMOTE_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS)
    return b"".join(out)


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return b""
    out = [_field(b"\x0a", scope.name.encode())] if scope.name else []
    if scope.version:
        out.append(_field(b"\x12", scope.version.encode()))
    out.append(_attributes(b"\x1a", scope.attributes))
    return b"".join(out)


class EncodedRequest:
    """An ExportTraceServiceRequest already serialized: what the exporter
    asks of the message it is given."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializePartialToString(self) -> bytes:
        return self.data

    SerializeToString = SerializePartialToString


def encode_spans(sdk_spans: Sequence[ReadableSpan]) -> EncodedRequest:
    """The export request for ``sdk_spans``: by resource, then by
    instrumentation scope, in the order first seen."""
    by_object: dict[tuple[int, int], list[ReadableSpan]] = {}
    for span in sdk_spans:  # an SDK's spans share their resource and scope objects
        by_object.setdefault((id(span.resource), id(span.instrumentation_scope)), []).append(span)
    groups: dict[Any, dict[Any, list[ReadableSpan]]] = {}
    merged = False
    for same in by_object.values():  # then grouped by equality, as the library groups them
        first = same[0]
        spans = groups.setdefault(first.resource, {}).setdefault(
            first.instrumentation_scope or None, []
        )
        merged = merged or bool(spans)
        spans.extend(same)
    if merged:  # equal resources or scopes in distinct objects: back in the batch's order
        position = {id(span): n for n, span in enumerate(sdk_spans)}
        for scopes in groups.values():
            for spans in scopes.values():
                spans.sort(key=lambda span: position[id(span)])
    out = []
    for resource, scopes in groups.items():
        encoded = [_field(b"\x0a", _attributes(b"\x0a", resource.attributes))]
        for scope, spans in scopes.items():
            scope_spans = [_field(b"\x0a", _scope(scope))]
            scope_spans += [_field(b"\x12", _span(span)) for span in spans]
            if scope is not None and scope.schema_url:
                scope_spans.append(_field(b"\x1a", scope.schema_url.encode()))
            encoded.append(_field(b"\x12", b"".join(scope_spans)))
        if resource.schema_url:
            encoded.append(_field(b"\x1a", resource.schema_url.encode()))
        out.append(_field(b"\x0a", b"".join(encoded)))
    return EncodedRequest(b"".join(out))
