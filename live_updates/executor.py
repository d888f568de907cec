"""The schema's executor as live delivery runs it (passed to Strawberry as
``execution_context_class`` by the composition root): an event of a shared
payload is executed once per group of identical subscriptions
(``live_updates.shared_executions``), and the task running a subscription
remembers the executor built for it, so that its frame sink can execute
updates as the subscription's own events would be (``live_updates.card_frames``)."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any, cast

from graphql import ExecutionResult, Executor, OperationType
from live_updates.shared_executions import (
    Execution,
    as_shared,
    key_of,
    memo_of,
    shared_data,
    shared_when_done,
)
from schema.executor import SchemaExecutor

running_subscription: ContextVar[Executor[Any] | None] = ContextVar(
    "running_subscription", default=None
)
"""The executor of the subscription the current task runs."""


class LiveExecutor(SchemaExecutor):
    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        executor = super().build(*args, **kwargs)
        if (
            isinstance(executor, Executor)
            and executor.operation.operation is OperationType.SUBSCRIPTION
        ):
            running_subscription.set(executor)
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        """An event of a shared payload reuses the execution that another
        subscription with the same key started, or starts it; anything else
        executes as usual."""
        memo = memo_of(self.root_value)
        if memo is None:
            return super().execute_operation(serially)
        key = key_of(self)
        hit = memo.get(key)
        if hit is None:
            value = super().execute_operation(serially)
            if not self.is_awaitable(value):
                result = as_shared(cast(ExecutionResult, value))
                if shared_data(result) is not None:
                    memo[key] = (self.operation, result)  # the operation's id is in the key
                return result
            future = asyncio.ensure_future(shared_when_done(value))
            memo[key] = (self.operation, future)
            return _outcome(future)
        execution = hit[1]
        if isinstance(execution, ExecutionResult) and shared_data(execution) is not None:
            return execution
        return self._own_unless_shared(execution, serially)

    async def _own_unless_shared(self, execution: Execution, serially: bool | None) -> Any:
        """The shared result once ``execution`` has finished, or (when it
        failed or has errors) this subscriber's own execution."""
        if isinstance(execution, asyncio.Future):
            execution = await asyncio.shield(execution)
        if shared_data(execution) is not None:
            return execution
        own = super().execute_operation(serially)
        return await own if self.is_awaitable(own) else own


async def _outcome(execution: asyncio.Future[ExecutionResult]) -> ExecutionResult:
    """The result of an execution others may be waiting for too."""
    return await asyncio.shield(execution)
