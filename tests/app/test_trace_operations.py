"""The GraphQL operation in the trace (app.trace_operations): what a client
sends cannot name spans, lie about the operation, or fill the export."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from strawberry.schema.exceptions import CannotGetOperationTypeError

from app.container import build_container
from app.graphql_view import MicrogridGraphQL
from app.settings import Settings
from app.telemetry import Telemetry
from app.trace_operations import DOCUMENT_CHARS
from graphql_documents.operations import operation_names
from tests.support.clock import FakeClock

pytestmark = pytest.mark.stores("sqlite")


@pytest.fixture
async def run(settings: Settings, clock: FakeClock) -> AsyncIterator[object]:
    exporter = InMemorySpanExporter()
    container = build_container(
        settings.model_copy(update={"otel_exporter_otlp_endpoint": None}),
        clock=clock,
        telemetry=Telemetry(SimpleSpanProcessor(exporter)),
    )
    schema = MicrogridGraphQL(container).schema

    async def execute(query: str, name: object = None) -> ReadableSpan:
        exporter.clear()
        with contextlib.suppress(CannotGetOperationTypeError):  # the view answers 400
            await schema.execute(query, operation_name=name)  # type: ignore[arg-type]
        (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("GraphQL")]
        return span

    yield execute
    await container.close()


async def test_an_operation_of_the_services_own_documents_names_its_span(run) -> None:
    known = sorted(operation_names())[0]
    span = await run(f"query {known} {{ __typename }}", known)
    assert span.name == f"GraphQL Query: {known}"
    assert (span.attributes or {})["graphql.operation.name"] == known
    assert (span.attributes or {})["graphql.operation.type"] == "query"


async def test_a_clients_own_name_is_an_attribute_not_a_span_name(run) -> None:
    span = await run("query Evil0 { __typename }", "Evil0")
    assert span.name == "GraphQL Query"
    assert (span.attributes or {})["graphql.operation.name"] == "Evil0"


@pytest.mark.parametrize(
    ("document", "name"),
    [
        ("{ __typename }", "X" * 200_000),
        ("query First { __typename } query Second { __typename }", None),
        ("{ __typename }", 123),
        ("query { nope }", None),
    ],
    ids=["name-not-in-document", "two-operations-no-name", "name-not-a-string", "invalid"],
)
async def test_a_refused_operation_is_described_by_its_document_only(
    run, document: str, name: object
) -> None:
    span = await run(document, name)
    attributes = span.attributes or {}
    assert span.name == "GraphQL Query"
    assert "graphql.operation.name" not in attributes, "nothing true to say"
    assert attributes["graphql.document"] == document


async def test_a_long_document_is_recorded_cut(run) -> None:
    document = "{ __typename }" + " " * 100_000
    span = await run(document)
    recorded = str((span.attributes or {})["graphql.document"])
    assert len(recorded) == DOCUMENT_CHARS and recorded.endswith("…")
