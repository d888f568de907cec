"""GraphQL operations as metrics: latency by operation name and result type,
ingests by outcome and packets by action outcome (a Strawberry schema
extension; the root fields' results come from ``schema.root_results``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from app.metrics import Metrics, operation_started
from graphql import GraphQLError
from schema.packets import SensorPacketIngested
from schema.problems import Problem
from schema.results import CapabilityStatusRecorded, SensorPacketsIngested
from schema.root_results import RootResults, collected

INGESTS = {
    "recordCapabilityStatus": "capability_status",
    "ingestSensorPacket": "sensor_packet",
    "ingestSensorPackets": "sensor_packet",
}


def operation_extensions(metrics: Metrics | None) -> Sequence[Callable[[], SchemaExtension]]:
    """The schema extensions that feed ``metrics`` (none without metrics)."""
    if metrics is None:
        return ()
    return (lambda: OperationMetrics(metrics),)


class OperationMetrics(SchemaExtension):
    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        token = operation_started.set(started)
        try:
            with collected() as results:
                yield
        finally:
            operation_started.reset(token)
        context = self.execution_context
        if OperationType.SUBSCRIPTION in context.allowed_operations:
            try:
                if context.operation_type is OperationType.SUBSCRIPTION:
                    return  # a subscription's lifetime is no latency
            except Exception:
                pass  # not parsed, or no such operation: still a (refused) operation
        result = context.result
        errors = (result.errors if result is not None else None) or context.pre_execution_errors
        m = self._metrics
        m.operations.labels(
            m.operation_name(_name(context.operation_name)), _result_type(m, errors, results)
        ).observe(time.perf_counter() - started)
        for field, value in results:
            kind = INGESTS.get(field)
            if kind is not None:
                _count_ingest(m, kind, value)


def _name(name: str | None) -> str | None:
    return name if name is not None else "anonymous"


def _result_type(m: Metrics, errors: Sequence[GraphQLError] | None, results: RootResults) -> str:
    if errors:
        code = (errors[0].extensions or {}).get("code")
        return m.result_type(code if isinstance(code, str) else "GRAPHQL_ERROR")
    for _field, value in results:
        if isinstance(value, Problem):
            return m.result_type(type(value).__name__)
    return "ok"


def _count_ingest(m: Metrics, kind: str, value: Any) -> None:
    if isinstance(value, SensorPacketsIngested):
        for each in value.results:
            _count_ingest(m, kind, each)
    elif isinstance(value, SensorPacketIngested):
        m.ingests.labels(kind, "accepted").inc()
        for outcome in value.outcomes:
            m.packet_actions.labels(outcome.action.value, outcome.outcome.value).inc()
    elif isinstance(value, CapabilityStatusRecorded):
        m.ingests.labels(kind, "duplicate" if value.duplicate else "accepted").inc()
    elif isinstance(value, Problem):
        m.ingests.labels(kind, m.outcome(value.code)).inc()
