"""Request spans recorded plainly: the same span the SDK's tracer would make
(its sampler, its id generator, its resource; the same export through the
same batch processor), without the SDK's span object.

The SDK's span is made for spans anyone may touch from any thread: every
attribute is checked and copied under a lock, limits are applied as it
goes, and ending it copies it once more into a ``ReadableSpan`` for the
processors. An HTTP request's span is touched only by this service's own
code, on the event loop, with values it has already checked and capped, so
here an attribute is a dictionary entry, an event a list item, and ending
it hands that one ``ReadableSpan`` to the processor. For a traced ingest
request that was the larger part of what recording its span cost
(bench/README.md, "Tracing off vs on, fifth session").

What keeps it the SDK's span in every way a reader can see: the sampler
decides (with the same arguments) before anything is recorded, an
unsampled request gets the SDK's ``NonRecordingSpan``, the trace flags
(random trace id included) and trace state are worked out as the SDK's
tracer does, and tests/app/test_light_spans.py exports the same request
through both and compares the spans."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from time import time_ns
from types import TracebackType

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util.types import Attributes, AttributeValue

from app.opentelemetry_internals import readable_span

MAX_EVENTS = 128
"""Events kept per span, as the SDK's default limit (later ones are dropped)."""

_NO_LINKS: Sequence[Link] = ()
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)


class LightSpan(Span):
    """A recorded span: plain fields until it ends, then one ``ReadableSpan``
    for ``finish``. For the service's own code on one thread: attribute
    values are taken as given (the callers cap what a client chose)."""

    __slots__ = (
        "_attributes",
        "_context",
        "_end",
        "_events",
        "_finish",
        "_kind",
        "_name",
        "_parent",
        "_start",
        "_status",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: Mapping[str, AttributeValue] | None,
        finish: Callable[[LightSpan], None],
    ) -> None:
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes: dict[str, AttributeValue] = dict(attributes) if attributes else {}
        self._events: list[Event] = []
        self._status = Status(StatusCode.UNSET)
        self._finish = finish
        self._end: int | None = None
        self._start = time_ns()

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end is None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self._end is None:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        if self._end is None:
            self._attributes.update(attributes)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end is None and len(self._events) < MAX_EVENTS:
            self._events.append(Event(name, attributes, timestamp or time_ns()))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        """Links are given when a span starts; a request span has none."""

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK's: OK is final, and UNSET changes nothing."""
        if self._end is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """The SDK's ``exception`` event (semantic conventions)."""
        kind = type(exception)
        module = kind.__module__
        event: dict[str, AttributeValue] = {
            "exception.type": kind.__qualname__
            if module in ("", "builtins")
            else f"{module}.{kind.__qualname__}",
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end is None:
            self._end = end_time or time_ns()
            self._finish(self)

    def readable(self, resource: Resource, scope: InstrumentationScope) -> ReadableSpan:
        """The ended span as the SDK's processors take it."""
        assert self._end is not None, "only an ended span is readable"
        return readable_span(
            name=self._name,
            context=self._context,
            parent=self._parent,
            resource=resource,
            attributes=self._attributes,
            events=self._events,
            links=_NO_LINKS,
            kind=self._kind,
            status=self._status,
            start_time=self._start,
            end_time=self._end,
            instrumentation_scope=scope,
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and self._end is None:
            self.record_exception(exc_val, escaped=True)
            self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        self.end()


class LightTracer:
    """Starts :class:`LightSpan`s for ``provider``'s sampler and id generator,
    ended into ``processor`` (the batch processor the provider exports through)."""

    def __init__(self, provider: TracerProvider, processor: SpanProcessor, scope: str) -> None:
        self._sampler: Sampler = provider.sampler
        self._ids: IdGenerator = provider.id_generator
        self._resource: Resource = provider.resource
        self._scope = InstrumentationScope(scope, "", "")  # as the SDK's get_tracer(scope)
        self._on_end: Callable[[ReadableSpan], None] = processor.on_end

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Span:
        """A recorded span, or the SDK's ``NonRecordingSpan`` when the sampler
        says so, under ``context``'s span (a client's, say) if it has one."""
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        ids = self._ids
        if parent is not None and parent.is_valid:
            trace_id = parent.trace_id
            random_id = parent.trace_flags.random_trace_id
        else:
            parent = None
            trace_id = ids.generate_trace_id()
            random_id = ids.is_trace_id_random()
        sampled = self._sampler.should_sample(context, trace_id, name, kind, attributes, ())
        flags = _SAMPLED if sampled.decision is Decision.RECORD_AND_SAMPLE else _UNSAMPLED
        if random_id:
            flags = TraceFlags(flags | TraceFlags.RANDOM_TRACE_ID)
        span_context = SpanContext(
            trace_id,
            ids.generate_span_id(),
            is_remote=False,
            trace_flags=flags,
            trace_state=sampled.trace_state,
        )
        if sampled.decision is Decision.DROP:
            return NonRecordingSpan(span_context)
        return LightSpan(name, span_context, parent, kind, sampled.attributes, self._finish)

    def _finish(self, span: LightSpan) -> None:
        self._on_end(span.readable(self._resource, self._scope))
