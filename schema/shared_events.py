"""One execution and one JSON encoding per subscription event, shared by every
local subscriber that asked for the same fields.

A payload marked with :func:`share` is yielded as the same object to every
subscriber of one change (the card broadcaster marks what it presents). Executing
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
from typing import Any, TypeVar, cast

from graphql.execution.executor import Executor
from strawberry.types import ExecutionResult as StrawberryResult

from graphql import ExecutionResult

_MEMO = "_shared_executions"
T = TypeVar("T")
_execute_operation = Executor.execute_operation


def share(payload: T) -> T:
    """Marks a subscription payload that many subscribers will receive: its
    executions are kept on it (a subscriber's own snapshot is not marked, so
    nothing is kept for it while its subscription idles)."""
    payload.__dict__[_MEMO] = {}
    return payload


class SharedData(dict[str, Any]):
    """A result's ``data``, encoded to JSON at most once."""

    __slots__ = ("_encoded",)

    def encoded(self) -> str:
        try:
            return self._encoded
        except AttributeError:
            self._encoded: str = json.dumps(self)
            return self._encoded


class SharedResult(ExecutionResult):
    """An error-free result shared by subscribers, with Strawberry's view of it
    built once too (``MicrogridSchema`` hands that out instead of converting the
    result again for every subscriber)."""

    def __init__(self, data: SharedData, extensions: dict[str, Any] | None) -> None:
        super().__init__(data, None, extensions)
        self.presented = StrawberryResult(data=data, errors=None, extensions={})


class _Executed:
    """Stands in for a per-event executor whose result is already known."""

    def __init__(self, result: ExecutionResult) -> None:
        self._result = result

    def execute_operation(self, _serially: bool | None = None) -> ExecutionResult:
        return self._result


def _key(executor: Executor[Any]) -> tuple[int, str]:
    """The same for every event of one subscription (not kept on the executor:
    that cost ~0.9 KiB per open subscription)."""
    variables = json.dumps(executor.variable_values.coerced, sort_keys=True, default=repr)
    return id(executor.operation), variables


def _shared(result: ExecutionResult) -> ExecutionResult:
    if result.errors or result.data is None:
        return result
    return SharedResult(SharedData(result.data), result.extensions)


async def _await_shared(
    future: asyncio.Future[ExecutionResult], executor: Executor[Any], serially: bool | None
) -> ExecutionResult:
    result = await asyncio.shield(future)
    if isinstance(result, SharedResult):
        return result
    own = _execute_operation(executor, serially)
    return await own if isinstance(own, Awaitable) else own  # type: ignore[return-value]


async def _first(pending: Awaitable[Any]) -> ExecutionResult:
    return _shared(await pending)


def _memo(payload: Any) -> dict[tuple[int, str], tuple[object, Any]] | None:
    memo: dict[tuple[int, str], tuple[object, Any]] | None = getattr(payload, "__dict__", {}).get(
        _MEMO
    )
    return memo


def execute_event(executor: Executor[Any], serially: bool | None = None) -> Any:
    """``Executor.execute_operation`` for the first events of a subscription
    that no other subscriber has executed yet."""
    memo, key = _memo(executor.root_value), _key(executor)
    assert memo is not None
    hit = memo.get(key)
    if hit is not None:  # a finished result was handed out when the executor was built
        return _await_shared(hit[1], executor, serially)
    value = _execute_operation(executor, serially)
    if executor.is_awaitable(value):
        future = asyncio.ensure_future(_first(value))
        memo[key] = (executor.operation, future)  # the operation stays alive: its id is the key
        return _await_shared(future, executor, serially)
    result = _shared(cast(ExecutionResult, value))
    if isinstance(result, SharedResult):
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
    if type(data) is not SharedData:
        return None
    operation_id = json.dumps(message["id"])
    return f'{{"id":{operation_id},"type":"next","payload":{{"data":{data.encoded()}}}}}'


def apply() -> None:
    """Per-event executors of shared payloads reuse or run :func:`execute_event`
    (installed once, at import of the schema)."""
    build = Executor.build_per_event_executor

    def build_per_event_executor(self: Executor[Any], payload: Any) -> Any:
        memo = _memo(payload)
        if memo is None:
            return build(self, payload)
        hit = memo.get(_key(self))
        if hit is not None and isinstance(hit[1], SharedResult):
            return _Executed(hit[1])
        executor = build(self, payload)
        executor.execute_operation = MethodType(execute_event, executor)  # type: ignore[method-assign]
        return executor

    Executor.build_per_event_executor = build_per_event_executor  # type: ignore[method-assign]
