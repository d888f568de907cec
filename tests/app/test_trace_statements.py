"""Statements counted onto the span they ran under (app.trace_statements):
the failed ones named on their own, nothing outside a tally."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from app import trace_statements
from app.trace_statements import StatementEvents, tallied


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    events = StatementEvents()
    events.listen(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE microgrids (id INTEGER)"))
    yield engine
    events.remove()
    engine.dispose()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _tracer(exporter: InMemorySpanExporter):  # type: ignore[no-untyped-def]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test")


def _select(engine: Engine, times: int = 1) -> None:
    with engine.connect() as conn:
        for _ in range(times):
            conn.execute(text("SELECT id FROM microgrids")).all()


def _only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return span


def test_statements_are_counted_and_listed_on_their_span(engine, exporter) -> None:
    tracer = _tracer(exporter)
    with tracer.start_as_current_span("request") as span, tallied(span):
        _select(engine, 3)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO microgrids (id) VALUES (1)"))
    attributes = _only(exporter, "request").attributes or {}
    assert attributes["microgrid.db.statements"] == 4
    assert attributes["microgrid.db.summaries"] == (
        "SELECT microgrids, SELECT microgrids, SELECT microgrids, INSERT microgrids"
    )
    assert _only(exporter, "request").events == (), "statements that worked have no event"


def test_an_inner_tallied_span_takes_its_own_statements(engine, exporter) -> None:
    tracer = _tracer(exporter)
    with tracer.start_as_current_span("request") as outer, tallied(outer):
        _select(engine)
        with tracer.start_as_current_span("operation") as inner, tallied(inner):
            _select(engine, 2)
    assert (_only(exporter, "request").attributes or {})["microgrid.db.statements"] == 1
    assert (_only(exporter, "operation").attributes or {})["microgrid.db.statements"] == 2


def test_a_failed_statement_is_an_event_with_its_error(engine, exporter) -> None:
    tracer = _tracer(exporter)
    with (
        tracer.start_as_current_span("request") as span,
        tallied(span),
        pytest.raises(OperationalError),
        engine.connect() as conn,
    ):
        conn.execute(text("SELECT id FROM no_such_table"))
    request = _only(exporter, "request")
    (failed,) = request.events
    assert failed.name == "SELECT no_such_table"
    assert dict(failed.attributes or {}) == {
        "db.system": "sqlite",
        "db.operation.name": "SELECT",
        "error.type": "OperationalError",
    }
    assert (request.attributes or {})["microgrid.db.statements"] == 1


def test_a_long_list_of_summaries_is_cut_but_the_count_is_exact(
    engine, exporter, monkeypatch
) -> None:
    monkeypatch.setattr(trace_statements, "MAX_SUMMARIES", 2)
    tracer = _tracer(exporter)
    with tracer.start_as_current_span("request") as span, tallied(span):
        _select(engine, 5)
    attributes = _only(exporter, "request").attributes or {}
    assert attributes["microgrid.db.summaries"] == "SELECT microgrids, SELECT microgrids, …"
    assert attributes["microgrid.db.statements"] == 5


def test_nothing_is_tallied_outside_a_tally_or_on_an_unrecorded_span(engine, exporter) -> None:
    tracer = _tracer(exporter)
    _select(engine)
    with tracer.start_as_current_span("untallied"):
        _select(engine)
    assert "microgrid.db.statements" not in (_only(exporter, "untallied").attributes or {})
    with tallied(INVALID_SPAN):
        _select(engine)


async def test_a_task_started_under_a_tally_adds_nothing_once_the_span_ends(
    engine, exporter
) -> None:
    """A task started during a request shares its context; what it sends after
    the request's span ended is not kept (nor piles up) on that span."""
    tracer = _tracer(exporter)
    started, later = asyncio.Event(), asyncio.Event()

    kept: list[int] = []

    async def outlives_the_request() -> None:
        _select(engine)
        started.set()
        await later.wait()
        _select(engine, 3)
        tally = trace_statements._current.get()
        kept.append(len(tally.summaries) if tally is not None else 0)

    with tracer.start_as_current_span("request") as span, tallied(span):
        task = asyncio.create_task(outlives_the_request())
        await started.wait()
    later.set()
    await task
    assert (_only(exporter, "request").attributes or {})["microgrid.db.statements"] == 1
    assert kept == [1], "an ended tally does not grow (a watch task lives for hours)"
