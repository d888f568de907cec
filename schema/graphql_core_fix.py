"""Work around a memory leak in graphql-core 3.3.2 subscriptions.

Per-event executors are shallow copies of the subscription's executor and so
share its memo of collected subfields. That memo is keyed by the identity of
field lists built anew for every event, so it never hits across events and
gains entries with every message: a long-lived card subscription grew the
server by ~4 KiB per message (bench/soak.py). Each event executor gets a memo
of its own, which is all the memo is for. Remove when graphql-core fixes it;
tests/api/test_subscription_memory.py fails if the leak returns."""

from __future__ import annotations

from typing import Any

from graphql.execution.executor import Executor

_build_per_event_executor = Executor.build_per_event_executor


def _per_event_executor_with_own_memo(self: Any, payload: Any) -> Any:
    executor = _build_per_event_executor(self, payload)
    executor._relevant_sub_fields = {}
    return executor


def apply() -> None:
    Executor.build_per_event_executor = _per_event_executor_with_own_memo  # type: ignore[method-assign]
