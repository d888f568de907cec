"""Request spans recorded plainly (app.light_spans): for what the service
does with a span, the same exported span as the SDK's tracer makes, the
same sampling decisions, and nothing exported for an unsampled request."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from app.light_spans import MAX_EVENTS, LightTracer

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"


class _Pair:
    """One provider, exporting to memory, with the SDK's tracer and a light one."""

    def __init__(self, sampler: Any = None, ids: Any = None) -> None:
        self.exporter = InMemorySpanExporter()
        processor = SimpleSpanProcessor(self.exporter)
        self.provider = TracerProvider(
            resource=Resource({"service.name": "t"}), sampler=sampler, id_generator=ids
        )
        self.provider.add_span_processor(processor)
        self.sdk = self.provider.get_tracer("microgrid.http")
        self.light = LightTracer(self.provider, processor, "microgrid.http")

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


def _client(traceparent: str) -> Any:
    return TraceContextTextMapPropagator().extract({"traceparent": traceparent})


def _seen(span: ReadableSpan) -> dict[str, Any]:
    """What a trace's reader sees of a span, ids and times aside."""
    return {
        "name": span.name,
        "kind": span.kind,
        "attributes": dict(span.attributes or {}),
        "events": [(e.name, dict(e.attributes or {})) for e in span.events],
        "status": (span.status.status_code, span.status.description),
        "parent": span.parent,
        "trace_state": span.context.trace_state if span.context else None,
        "flags": span.context.trace_flags if span.context else None,
        "resource": span.resource,
        "scope": span.instrumentation_scope,
    }


scalars = (
    st.text(max_size=12)
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | st.floats(allow_nan=False)
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set_attribute"), st.text(min_size=1, max_size=8), scalars),
        st.tuples(
            st.just("set_attributes"), st.dictionaries(st.text(min_size=1, max_size=8), scalars)
        ),
        st.tuples(
            st.just("add_event"),
            st.text(max_size=8),
            st.dictionaries(st.text(min_size=1, max_size=8), scalars, max_size=3),
        ),
        st.tuples(st.just("update_name"), st.text(max_size=8)),
        st.tuples(
            st.just("set_status"),
            st.sampled_from([StatusCode.OK, StatusCode.ERROR]),
            st.none() | st.text(max_size=8),
        ),
    ),
    max_size=12,
)


def _apply(span: trace.Span, steps: list[tuple[Any, ...]]) -> None:
    for name, *arguments in steps:
        if name == "set_status":
            code, description = arguments
            span.set_status(Status(code, description if code is StatusCode.ERROR else None))
        else:
            getattr(span, name)(*arguments)


@settings(max_examples=100, deadline=None)
@given(steps=operations, client=st.booleans(), kind=st.sampled_from(list(SpanKind)))
def test_a_light_span_exports_what_the_sdks_span_would(
    steps: list[tuple[Any, ...]], client: bool, kind: SpanKind
) -> None:
    pair = _Pair()
    context = _client(f"00-{CLIENT_TRACE}-b7ad6b7169203331-01") if client else None
    for tracer in (pair.sdk, pair.light):
        span = tracer.start_span("POST /graphql", context=context, kind=kind)
        _apply(span, steps)
        span.end()
        _apply(span, steps)  # after the end: nothing changes
        span.end()
    sdk, light = pair.spans()
    assert _seen(light) == _seen(sdk)
    if client:
        assert light.context.trace_id == sdk.context.trace_id == int(CLIENT_TRACE, 16)
    assert encode_spans([light]).resource_spans[0].scope_spans[0].spans[0].name == light.name


@pytest.mark.parametrize(
    ("sampler", "traceparent"),
    [
        (None, None),
        (ALWAYS_OFF, None),
        (ParentBased(ALWAYS_OFF), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        (None, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
        (ParentBased(TraceIdRatioBased(0.5)), None),
    ],
)
def test_the_sampler_decides_as_it_does_for_the_sdks_tracer(
    sampler: Any, traceparent: str | None
) -> None:
    pair = _Pair(sampler)
    context = _client(traceparent) if traceparent else None
    for _ in range(20):
        made = [t.start_span("GET /", context=context) for t in (pair.sdk, pair.light)]
        sdk, light = (span.get_span_context() for span in made)
        if traceparent:
            assert light.trace_id == sdk.trace_id
        if sampler is None or traceparent:
            assert light.trace_flags == sdk.trace_flags
        assert light.is_remote is False and light.is_valid
        if not light.trace_flags.sampled:
            assert isinstance(made[1], NonRecordingSpan)
        assert made[1].is_recording() == light.trace_flags.sampled
        for span in made:
            span.end()


class _Ids(RandomIdGenerator):
    """The trace id a test sets, for both tracers alike."""

    trace_id = 1

    def generate_trace_id(self) -> int:
        return self.trace_id


@pytest.mark.parametrize("parent", [None, "sampled", "unsampled"])
def test_a_ratio_sampler_decides_each_trace_as_for_the_sdks_tracer(parent: str | None) -> None:
    ids = _Ids()
    pair = _Pair(ParentBased(TraceIdRatioBased(0.5)), ids)
    decisions: dict[tuple[bool, bool], int] = {}
    for n in range(200):
        ids.trace_id = (n * 0x9E3779B97F4A7C15) % 2**128 or 1
        context = None
        if parent:
            flags = "01" if parent == "sampled" else "00"
            context = _client(f"00-{ids.trace_id:032x}-b7ad6b7169203331-{flags}")
        made = [t.start_span("POST /graphql", context=context) for t in (pair.sdk, pair.light)]
        sdk, light = (span.get_span_context() for span in made)
        assert (light.trace_id, light.trace_flags, light.trace_state) == (
            sdk.trace_id,
            sdk.trace_flags,
            sdk.trace_state,
        )
        key = (made[0].is_recording(), made[1].is_recording())
        decisions[key] = decisions.get(key, 0) + 1
    if parent is None:
        assert set(decisions) == {(True, True), (False, False)}, "the ratio, alike"
    else:
        assert set(decisions) == {(parent == "sampled",) * 2}, "the parent decides, alike"


def test_an_unsampled_request_exports_nothing() -> None:
    pair = _Pair(ALWAYS_OFF)
    span = pair.light.start_span("POST /graphql", kind=SpanKind.SERVER)
    span.set_attribute("url.path", "/graphql")
    span.add_event("publish")
    span.end()
    assert pair.spans() == ()
    assert not span.is_recording() and span.get_span_context().is_valid


def test_an_exception_is_recorded_as_the_sdk_records_it() -> None:
    pair = _Pair()
    for tracer in (pair.sdk, pair.light):
        with pytest.raises(ValueError), tracer.start_span("x"):
            raise ValueError("bad value")
    sdk, light = pair.spans()
    assert light.status.status_code is StatusCode.ERROR
    assert light.status.description == sdk.status.description
    ((light_event,), (sdk_event,)) = (light.events, sdk.events)
    assert light_event.name == sdk_event.name == "exception"
    attributes: Callable[[Any], dict[str, Any]] = lambda e: {  # noqa: E731
        k: v for k, v in (e.attributes or {}).items() if k != "exception.stacktrace"
    }
    assert attributes(light_event) == attributes(sdk_event)
    assert "bad value" in str((light_event.attributes or {})["exception.stacktrace"])


def test_events_stop_at_the_sdks_limit() -> None:
    pair = _Pair()
    span = pair.light.start_span("WebSocket /graphql")
    for n in range(MAX_EVENTS + 10):
        span.add_event(f"e{n}")
    span.end()
    (exported,) = pair.spans()
    assert len(exported.events) == MAX_EVENTS
    assert exported.events[-1].name == f"e{MAX_EVENTS - 1}"


def test_the_current_span_is_the_light_one_for_code_under_it() -> None:
    pair = _Pair()
    span = pair.light.start_span("POST /graphql")
    with trace.use_span(span, end_on_exit=True):
        child = pair.sdk.start_span("card read")
        child.end()
    child_span, request = pair.spans()
    assert child_span.parent == request.context
    assert child_span.context.trace_id == request.context.trace_id
