"""One execution and one JSON encoding per subscription event, shared by every
local subscriber that asked for the same fields.

A payload that subclasses :class:`SharedEvent` is yielded as the same object to
every subscriber of one change (``resolvers.live`` makes sure of that). Executing
the selection set over it gives the same result for each of them when they sent
the same document and variables: nothing under such a payload depends on who
asks (the scope was checked when the subscription started), and loaders read
the same committed data. So the first subscriber's execution is kept on the
payload and the others reuse it; its ``data`` is a :class:`SharedData` whose JSON
text is encoded once (see ``MicrogridGraphQL.encode_json``). A result with
errors is not shared: each subscriber then executes on its own, as before.

With 1,000 subscribers to one card this turns 1,000 executions and encodings
per change into one (bench/run.py, fanout)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from types import MethodType
from typing import Any, cast

from graphql.execution.executor import Executor

from graphql import ExecutionResult

_MEMO = "_shared_executions"
_execute_operation = Executor.execute_operation


class SharedEvent:
    """Marker base for subscription payloads that many subscribers receive."""


class SharedData(dict[str, Any]):
    """A result's ``data``, encoded to JSON at most once."""

    __slots__ = ("_encoded",)

    def encoded(self) -> str:
        try:
            return self._encoded
        except AttributeError:
            self._encoded: str = json.dumps(self)
            return self._encoded


def _key(executor: Executor[Any]) -> tuple[int, str]:
    variables = json.dumps(executor.variable_values.coerced, sort_keys=True, default=repr)
    return id(executor.operation), variables


def _shared(result: ExecutionResult) -> ExecutionResult:
    if result.errors or result.data is None:
        return result
    return ExecutionResult(SharedData(result.data), None, result.extensions)


async def _await_shared(
    future: asyncio.Future[ExecutionResult], executor: Executor[Any], serially: bool | None
) -> ExecutionResult:
    result = await asyncio.shield(future)
    if isinstance(result.data, SharedData):
        return result
    own = _execute_operation(executor, serially)
    return await own if isinstance(own, Awaitable) else own  # type: ignore[return-value]


async def _first(pending: Awaitable[Any]) -> ExecutionResult:
    return _shared(await pending)


def execute_event(executor: Executor[Any], serially: bool | None = None) -> Any:
    """``Executor.execute_operation`` for one event of a subscription."""
    payload = executor.root_value
    memo: dict[tuple[int, str], tuple[object, Any]] = payload.__dict__.setdefault(_MEMO, {})
    key = _key(executor)
    hit = memo.get(key)
    if hit is not None:
        value = hit[1]
        if isinstance(value, asyncio.Future):
            return _await_shared(value, executor, serially)
        return value
    value = _execute_operation(executor, serially)
    if executor.is_awaitable(value):
        future = asyncio.ensure_future(_first(value))
        memo[key] = (executor.operation, future)  # the operation stays alive: its id is the key
        return _await_shared(future, executor, serially)
    result = _shared(cast(ExecutionResult, value))
    if isinstance(result.data, SharedData):
        memo[key] = (executor.operation, result)
    return result


def encode_next_message(message: Any) -> str | None:
    """The graphql-transport-ws ``next`` message for shared data, reusing its
    encoded JSON; ``None`` for any other message."""
    if not isinstance(message, dict) or message.get("type") != "next":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or len(payload) != 1:
        return None
    data = payload.get("data")
    if not isinstance(data, SharedData):
        return None
    operation_id = json.dumps(message["id"])
    return f'{{"id":{operation_id},"type":"next","payload":{{"data":{data.encoded()}}}}}'


def apply() -> None:
    """Per-event executors run :func:`execute_event` (installed once, at import of
    the schema)."""
    build = Executor.build_per_event_executor

    def build_per_event_executor(self: Executor[Any], payload: Any) -> Executor[Any]:
        executor = build(self, payload)
        if isinstance(payload, SharedEvent):
            executor.execute_operation = MethodType(execute_event, executor)  # type: ignore[method-assign]
        return executor

    Executor.build_per_event_executor = build_per_event_executor  # type: ignore[method-assign]
