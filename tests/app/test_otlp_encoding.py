"""The OTLP wire encoder (app.otlp_encoding): the same bytes as the
library's encoder for spans of every shape, values protobuf refuses
included."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as library_encoder,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

from app import otlp_encoding


@pytest.fixture(autouse=True)
def _library_quiet() -> Iterator[None]:
    """The library's encoder logs a refused key as it is (a lone surrogate
    too), which pytest-xdist cannot send back from a worker."""
    library = logging.getLogger("opentelemetry.exporter.otlp.proto.common._internal")
    library.disabled = True
    try:
        yield
    finally:
        library.disabled = False


scalars = (
    st.booleans()
    | st.text(max_size=20)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.binary(max_size=8)
)
refused = (
    st.integers(min_value=2**63, max_value=2**70)
    | st.integers(min_value=-(2**70), max_value=-(2**63) - 1)
    | st.sampled_from(["\ud800", "a\udfffb", object()])
)
"""Values protobuf will not take: the library's encoder leaves their pair out."""
values = st.recursive(
    scalars | st.none() | refused,
    lambda inner: (
        st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
keys = st.text(max_size=12) | st.sampled_from(["\udc80", 7])
attributes = st.none() | st.dictionaries(keys, values, max_size=5)
ids = st.integers(min_value=1, max_value=2**64 - 1)
contexts = st.builds(
    SpanContext,
    trace_id=st.integers(min_value=1, max_value=2**128 - 1),
    span_id=ids,
    is_remote=st.booleans(),
    trace_state=st.none()
    | st.dictionaries(
        st.from_regex(r"\A[a-z][a-z0-9]{0,5}\Z"), st.from_regex(r"\A[a-z0-9]{1,6}\Z"), max_size=2
    ).map(lambda d: TraceState(list(d.items()))),
)
resources = st.sampled_from(
    [
        Resource({"service.name": "a"}),
        Resource({"service.name": "b", "n": 1}, schema_url="https://x/1"),
        Resource({}),
    ]
)
scopes = st.none() | st.sampled_from(
    [
        InstrumentationScope("microgrid"),
        InstrumentationScope("microgrid.http", "1.0", "https://s/1", {"k": "v"}),
    ]
)


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    start = draw(st.integers(min_value=0, max_value=2**62))
    return ReadableSpan(
        name=draw(st.text(max_size=20)),
        context=draw(contexts),
        parent=draw(st.none() | contexts),
        resource=draw(resources),
        attributes=draw(attributes),
        events=draw(
            st.lists(
                st.builds(
                    Event,
                    name=st.text(max_size=10),
                    attributes=attributes,
                    timestamp=st.integers(min_value=0, max_value=2**62),
                ),
                max_size=3,
            )
        ),
        links=draw(st.lists(st.builds(Link, context=contexts, attributes=attributes), max_size=2)),
        kind=draw(st.sampled_from(list(SpanKind))),
        status=draw(
            st.builds(Status, st.sampled_from([StatusCode.UNSET, StatusCode.OK]))
            | st.builds(Status, st.just(StatusCode.ERROR), st.none() | st.text(max_size=10))
        ),
        start_time=start,
        end_time=start + draw(st.integers(min_value=0, max_value=10**9)),
        instrumentation_scope=draw(scopes),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), max_size=6))
def test_the_bytes_are_the_librarys_for_spans_of_every_shape(batch: list[ReadableSpan]) -> None:
    expected = library_encoder(batch).SerializePartialToString()
    assert otlp_encoding.encode_spans(batch).SerializePartialToString() == expected
    again = otlp_encoding.encode_spans(batch).SerializePartialToString()
    assert again == expected, "the second time, cached pairs included"


def _decoded(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    data = otlp_encoding.encode_spans(spans).SerializePartialToString()
    return ExportTraceServiceRequest.FromString(data)


def test_a_value_of_no_otlp_type_is_left_out_as_the_library_leaves_it_out() -> None:
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, False),
        attributes={"ok": 1, "bad": object(), "after": "x"},  # type: ignore[dict-item]
    )
    decoded = _decoded([span])
    assert decoded == library_encoder([span])
    (encoded,) = decoded.resource_spans[0].scope_spans[0].spans
    assert [a.key for a in encoded.attributes] == ["ok", "after"]


def test_a_remembered_pair_is_never_another_type_that_compares_equal() -> None:
    def span(value: int | bool) -> ReadableSpan:
        return ReadableSpan(name="s", context=SpanContext(1, 2, False), attributes={"v": value})

    for value in (1, True, 0, False, 1, True):
        (encoded,) = _decoded([span(value)]).resource_spans[0].scope_spans[0].spans
        assert encoded.attributes[0].value.WhichOneof("value") == (
            "bool_value" if isinstance(value, bool) else "int_value"
        )


def test_equal_resources_in_distinct_objects_are_one_group_in_the_batchs_order() -> None:
    scope = InstrumentationScope("microgrid")
    batch = [
        ReadableSpan(
            name=str(n),
            context=SpanContext(1, n + 1, False),
            resource=Resource({"service.name": "a"}),  # a new, equal object each time
            instrumentation_scope=scope if n % 2 else InstrumentationScope("microgrid"),
        )
        for n in range(5)
    ]
    expected = library_encoder(batch)
    assert _decoded(batch) == expected
    assert [s.name for s in expected.resource_spans[0].scope_spans[0].spans] == list("01234")


def test_a_lone_surrogate_in_a_status_or_name_does_not_lose_the_batch() -> None:
    hostile = ReadableSpan(
        name="POST \ud800",
        context=SpanContext(1, 2, False),
        events=[Event("e\udfff", {}, 1)],
        status=Status(StatusCode.ERROR, 'ValueError: bad "\ud800"'),
    )
    fine = ReadableSpan(name="POST /graphql", context=SpanContext(1, 3, False))
    (first, second) = _decoded([hostile, fine]).resource_spans[0].scope_spans[0].spans
    assert (first.name, first.events[0].name, first.status.message) == (
        "POST ?",
        "e?",
        'ValueError: bad "?"',
    )
    assert second.name == "POST /graphql"
