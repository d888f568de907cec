"""Traces, with OpenTelemetry, only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Then a process has its own SDK tracer provider (a batch processor and the
OTLP/HTTP exporter; the SDK reads the other OTEL_* variables: service name,
resource attributes, sampler, headers, batching) and the composition root
wires it into: the ASGI app (app.trace_requests: a span per HTTP request or
WebSocket connection, recorded by app.light_spans), Strawberry
(app.trace_operations: an HTTP request's operation described on its span, a
WebSocket's operations spans of their own; in the access log's extension's
place), the database engine (app.trace_statements: statements counted onto
the span they ran under) and the publisher of change notices
(:class:`TracedPublisher`: an event per publish). The provider is not made
the global one: every part is handed it, so nothing else in the process
changes.

Each of those parts is ours rather than OpenTelemetry's instrumentation
packages or Strawberry's extension, and each makes as little as it can:
with those, tracing every request cost ingest 1.9 to 2.1x the server time of
tracing off, against the 1.10x the service allows it, and with a span per
operation, statement and publish still 1.3x (bench/README.md, "Issue 17").
A traced ingest request is one span.

One trace follows a change: the ingest request's span records the publish
of its change notices (an event), and each notice carries that span's W3C
``traceparent`` (``app.broker.TracedChange``, key ``tc`` on the wire). In
every process that delivers it, the card follower's read (and the update it
pushes) is a span of its own that *links* to the spans that published the
notices it answers: one read serves many notices and many screens, so it is
no one request's child.

Without the variable none of this exists: no provider, no middleware, no
schema extension, no wrapper around the publisher or the followers, and this
module is not even imported."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from uuid import UUID

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, Span, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware

from app.access_log import OperationNoted
from app.broker import Broker, InProcessBroker, TracedChange
from app.light_spans import LightTracer
from app.opentelemetry_internals import use_in_place_encoding
from app.trace_operations import OperationSpans
from app.trace_requests import RequestSpans, excluded_paths, trusts_client_context
from app.trace_statements import StatementEvents, tallied
from domain.changes import Change, Publisher
from domain.live import CardUpdate
from graphql_documents.operations import operation_names

DEFAULT_SERVICE_NAME = "depot-microgrid-service"
TRACES_PATH = "/v1/traces"
SHUTDOWN_SECONDS = 3.0
"""How long closing waits for the last spans to be sent: a collector that is
down must not hold up a deploy (the exporter retries for longer)."""


def service_resource() -> Resource:
    """What the SDK reads from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES,
    named ``depot-microgrid-service`` when neither names the service."""
    detected = Resource.create()
    name = detected.attributes.get(SERVICE_NAME)
    if isinstance(name, str) and not name.startswith("unknown_service"):
        return detected
    return detected.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))


def disabled_instrumentations() -> set[str]:
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS, as OpenTelemetry's own
    auto-instrumentation reads it: a comma-separated list of names."""
    names = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {name.strip() for name in names.split(",") if name.strip()}


def otlp_exporter(endpoint: str) -> OTLPSpanExporter:
    """OTLP/HTTP to ``endpoint``'s ``/v1/traces``, as the variable means it;
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, when set, is the full URL instead.
    Spans are encoded in place (app.otlp_encoding)."""
    use_in_place_encoding()
    traces_url = None
    if not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        traces_url = endpoint.rstrip("/") + TRACES_PATH
    return OTLPSpanExporter(endpoint=traces_url, meter_provider=NoOpMeterProvider())


@dataclass(frozen=True)
class _Read:
    """A follower's read span and the publishing spans it links to."""

    span: Span
    links: tuple[Link, ...]


class Telemetry:
    """A process's tracer provider and what the composition root wires with it."""

    def __init__(self, processor: SpanProcessor) -> None:
        self.provider = TracerProvider(resource=service_resource())
        self.provider.add_span_processor(processor)
        self._processor = processor
        self.tracer = self.provider.get_tracer("microgrid")
        self._graphql = self.provider.get_tracer("microgrid.graphql")
        self._statements = StatementEvents()
        self._propagator = TraceContextTextMapPropagator()

    @classmethod
    def from_environment(cls, endpoint: str | None) -> Telemetry | None:
        """``None`` (no tracing) unless ``endpoint`` (OTEL_EXPORTER_OTLP_ENDPOINT)
        is set, or when OTEL_SDK_DISABLED is ``true`` (as the SDK reads it)."""
        if not endpoint or os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return None
        return cls(BatchSpanProcessor(otlp_exporter(endpoint)))

    # What the composition root wires in.

    def middleware(self, routes: Iterable[str], mounts: Iterable[str] = ()) -> Middleware:
        """A span per HTTP request and per WebSocket connection
        (app.trace_requests), named by ``routes`` and ``mounts``."""
        return Middleware(
            RequestSpans,
            tracer=LightTracer(self.provider, self._processor, "microgrid.http"),
            routes=tuple(routes),
            mounts=tuple(mounts),
            excluded=excluded_paths(),
            trust_client_context=trusts_client_context(),
        )

    def operation_extension(self) -> Callable[[], OperationNoted]:
        """The operation described in the trace, no span per field
        (app.trace_operations), and noted for the access log: it takes
        :class:`OperationNoted`'s place in the schema."""
        tracer = self._graphql
        known = frozenset(operation_names())
        return lambda: OperationSpans(tracer, known)

    def instrument(self, engine: AsyncEngine, broker: Broker, channel: str) -> Publisher:
        """Instruments the engine, unless OTEL_PYTHON_DISABLED_INSTRUMENTATIONS
        names ``sqlalchemy``; the publisher to give the units of work."""
        if "sqlalchemy" not in disabled_instrumentations():
            self.instrument_engine(engine)
        system = "in-process" if isinstance(broker, InProcessBroker) else "redis"
        return self.publisher(broker, channel, system)

    def publisher(self, inner: Publisher, destination: str, system: str) -> Publisher:
        """Each publish through ``inner`` traced, its context carried by every notice."""
        return TracedPublisher(inner, self, destination, system)

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """The statements this engine sends, counted onto the span they ran
        under (app.trace_statements; undone by :meth:`shutdown`)."""
        self._statements.listen(engine.sync_engine)

    async def shutdown(self) -> None:
        """Sends what is batched, waiting at most SHUTDOWN_SECONDS (the
        exporter blocks: in a daemon thread, which never holds up the exit)."""
        self._statements.remove()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def stop() -> None:
            try:
                self.provider.shutdown()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is gone
                    loop.call_soon_threadsafe(_settle, done)

        threading.Thread(target=stop, name="otel-shutdown", daemon=True).start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(done), SHUTDOWN_SECONDS)

    # The trace context a notice carries.

    def published_by(self, notices: Sequence[Change]) -> tuple[Link, ...]:
        """Links to the spans that published ``notices``, each once; a notice
        without a (well-formed) context has none."""
        seen: dict[tuple[int, int], Link] = {}
        for notice in notices:
            traceparent = getattr(notice, "traceparent", None)
            if not traceparent:
                continue
            context = self._propagator.extract({"traceparent": traceparent})
            span_context: SpanContext = trace.get_current_span(context).get_span_context()
            if span_context.is_valid:
                seen.setdefault((span_context.trace_id, span_context.span_id), Link(span_context))
        return tuple(seen.values())

    # live_updates.follower_tracing.FollowerTracing

    @contextmanager
    def reading(self, microgrid_id: UUID, notices: Sequence[Change]) -> Iterator[object]:
        links = self.published_by(notices)
        with (
            self.tracer.start_as_current_span(
                "card read",
                context=Context(),
                kind=SpanKind.CONSUMER if notices else SpanKind.INTERNAL,
                links=links,
                attributes={
                    "microgrid.id": str(microgrid_id),
                    "messaging.batch.message_count": len(notices),
                },
            ) as span,
            tallied(span),
        ):
            yield _Read(span, links)

    @contextmanager
    def updating(self, read: object, update: CardUpdate, subscribers: int) -> Iterator[None]:
        links: tuple[Link, ...]
        parent, links = Context(), ()
        if isinstance(read, _Read):
            parent, links = trace.set_span_in_context(read.span), read.links
        with self.tracer.start_as_current_span(
            "card update",
            context=parent,
            links=links,
            attributes={
                "microgrid.id": str(update.card.microgrid.id),
                "microgrid.card.revision": update.card.revision,
                "microgrid.card.reason": update.reason.value,
                "microgrid.subscribers": subscribers,
            },
        ):
            yield


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_CHANGE_FIELDS = tuple(f.name for f in fields(Change))


def _traced(change: Change, traceparent: str) -> Change:
    values = {name: getattr(change, name) for name in _CHANGE_FIELDS}
    return TracedChange(**values, traceparent=traceparent)


class TracedPublisher:
    """Each publish in the trace, its context carried by every notice.

    Inside a recorded span (the ingest request's, a job's) the publish is an
    event on that span, ``publish <channel>`` with the number of notices
    (the channel and the system are the process's, so the event does not
    repeat them), and the notices carry that
    span's context, so the card reads they cause link to the request itself:
    an event costs a third of what a span does to make and export, and a
    publish takes well under a millisecond. Outside one it is a producer
    span of its own, so a change no request made is still traced. An
    unsampled publish sends the notices as they are."""

    def __init__(
        self, inner: Publisher, telemetry: Telemetry, destination: str, system: str
    ) -> None:
        self._inner = inner
        self._telemetry = telemetry
        self._name = f"publish {destination}"
        self._attributes: dict[str, str | int] = {
            "messaging.system": system,
            "messaging.destination.name": destination,
            "messaging.operation.type": "send",
        }

    async def publish(self, changes: list[Change]) -> None:
        current = trace.get_current_span()
        if not changes or (current.get_span_context().is_valid and not current.is_recording()):
            await self._inner.publish(changes)
            return
        if current.is_recording():
            current.add_event(self._name, {"messaging.batch.message_count": len(changes)})
            await self._inner.publish(_carrying(changes, current))
            return
        with self._telemetry.tracer.start_as_current_span(
            self._name, kind=SpanKind.PRODUCER, attributes=self._attributes
        ) as span:
            if span.is_recording():
                span.set_attribute("messaging.batch.message_count", len(changes))
                changes = _carrying(changes, span)
            await self._inner.publish(changes)


def _carrying(changes: list[Change], span: Span) -> list[Change]:
    """``changes``, each carrying ``span``'s context as a W3C ``traceparent``
    (what the propagator would inject: version 00, the ids, the flags)."""
    context = span.get_span_context()
    traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
    return [_traced(change, traceparent) for change in changes]
