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
import contextlib
import json
from collections.abc import Awaitable, Coroutine
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

    @property
    def shared_data(self) -> SharedData:
        return cast(SharedData, self.data)


class _Executed:
    """Stands in for a per-event executor whose result is already known."""

    def __init__(self, result: ExecutionResult) -> None:
        self._result = result

    def execute_operation(self, _serially: bool | None = None) -> ExecutionResult:
        return self._result


Key = tuple[int, object]


def key_of(executor: Executor[Any]) -> Key:
    """The same for every event of one subscription, and for every subscription
    that sent the same document (parsed once, cached) and variables. Not kept on
    the executor: that cost ~0.9 KiB per open subscription."""
    coerced = executor.variable_values.coerced
    variables: object
    try:
        # Types too: 1 == True == 1.0 in Python, not in GraphQL.
        variables = tuple(sorted((name, type(v), v) for name, v in coerced.items()))
        hash(variables)
    except TypeError:  # lists and input objects
        variables = json.dumps(coerced, sort_keys=True, default=repr)
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


def memo_of(payload: Any) -> dict[Key, tuple[object, Any]] | None:
    """The executions kept on a shared payload; ``None`` for any other payload."""
    memo: dict[Key, tuple[object, Any]] | None = getattr(payload, "__dict__", {}).get(_MEMO)
    return memo


def execute_event(executor: Executor[Any], serially: bool | None = None) -> Any:
    """``Executor.execute_operation`` for the first events of a subscription
    that no other subscriber has executed yet."""
    memo, key = memo_of(executor.root_value), key_of(executor)
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


def finished(payload: Any, key: Key) -> SharedResult | None:
    """The shared result of ``payload`` for subscriptions with this ``key``,
    once executed without errors."""
    memo = memo_of(payload)
    hit = memo.get(key) if memo is not None else None
    if hit is None:
        return None
    done = hit[1]
    if isinstance(done, asyncio.Future):
        if not done.done() or done.cancelled() or done.exception() is not None:
            return None
        done = done.result()
    return done if isinstance(done, SharedResult) else None


def start(executor: Executor[Any], payload: Any, key: Key) -> Awaitable[None] | None:
    """Starts (or joins) the shared execution of ``payload`` for the subscription
    that ``executor`` runs (its key is ``key``), as its own event would; returns
    something to await while that execution runs, ``None`` once it is over.
    Never raises: a failed execution only means there is nothing to share."""
    memo = memo_of(payload)
    if memo is None:
        return None
    if key not in memo:
        try:
            outcome = executor.build_per_event_executor(payload).execute_operation()
        except Exception:
            return None
        if isinstance(outcome, Coroutine):
            outcome.close()  # the subscriber's own share of the result: not wanted here
    hit = memo.get(key)
    running = hit[1] if hit is not None else None
    if isinstance(running, asyncio.Future) and not running.done():
        return _settled(running)
    return None


async def _settled(running: asyncio.Future[Any]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.shield(running)


def next_frame(operation_id: str, data: SharedData) -> str:
    """The ``next`` message Strawberry would send for an error-free shared
    result, with the data's JSON encoded once for every subscriber."""
    return (
        f'{{"id":{json.dumps(operation_id)},"type":"next","payload":{{"data":{data.encoded()}}}}}'
    )


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
    return next_frame(message["id"], data)


def apply() -> None:
    """Per-event executors of shared payloads reuse or run :func:`execute_event`
    (installed once, at import of the schema)."""
    build = Executor.build_per_event_executor

    def build_per_event_executor(self: Executor[Any], payload: Any) -> Any:
        memo = memo_of(payload)
        if memo is None:
            return build(self, payload)
        hit = memo.get(key_of(self))
        if hit is not None and isinstance(hit[1], SharedResult):
            return _Executed(hit[1])
        executor = build(self, payload)
        executor.execute_operation = MethodType(execute_event, executor)  # type: ignore[method-assign]
        return executor

    Executor.build_per_event_executor = build_per_event_executor  # type: ignore[method-assign]
