"""One execution and one JSON encoding per subscription event, shared by every
local subscriber that asked for the same fields.

A payload marked with :func:`share` is handed as the same object to every
subscriber of one change (the card follower marks what it presents).
Executing the selection set over it gives the same result for each of them
when they sent the same document and variables: nothing under such a payload
depends on who asks (the scope was checked when the subscription started), and
loaders read the same committed data. So the first subscriber's execution is
kept on the payload and the others reuse it (``live_updates.executor``); its
``data`` is a :class:`SharedData` whose JSON text is encoded once. A result
with errors is not shared: each subscriber then executes on its own.

With 1,000 subscribers to one card this turns 1,000 executions and encodings
per change into one (bench/README.md, fan-out)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from graphql import ExecutionResult, Executor

_MEMO = "_shared_executions"
T = TypeVar("T")

Key = tuple[int, object]
Execution = ExecutionResult | asyncio.Future[ExecutionResult]
"""A finished execution, or one still running."""
Memo = dict[Key, tuple[object, Execution]]
"""Executions by subscription key, each with the operation whose id is in the key."""


def share(payload: T) -> T:
    """Marks a subscription payload that many subscribers will receive: its
    executions are kept on it (a subscriber's own snapshot is not marked, so
    nothing is kept for it while its subscription idles)."""
    payload.__dict__[_MEMO] = {}
    return payload


def memo_of(payload: Any) -> Memo | None:
    """The executions kept on a shared payload; ``None`` for any other payload."""
    memo: Memo | None = getattr(payload, "__dict__", {}).get(_MEMO)
    return memo


class SharedData(dict[str, Any]):
    """A result's ``data``, encoded to JSON at most once."""

    __slots__ = ("_encoded",)

    def encoded(self) -> str:
        try:
            return self._encoded
        except AttributeError:
            self._encoded: str = json.dumps(self)
            return self._encoded


def shared_data(result: ExecutionResult) -> SharedData | None:
    """The data of a result every subscriber of its key may be sent."""
    data = result.data
    return data if type(data) is SharedData and not result.errors else None


def key_of(executor: Executor[Any]) -> Key:
    """The same for every event of one subscription, and for every subscription
    that sent the same document (parsed once, cached) and variables. Not kept on
    the executor: that cost memory per open subscription."""
    coerced = executor.variable_values.coerced
    variables: object
    try:
        # Types too: 1 == True == 1.0 in Python, not in GraphQL.
        variables = tuple(sorted((name, type(v), v) for name, v in coerced.items()))
        hash(variables)
    except TypeError:  # lists and input objects
        variables = json.dumps(coerced, sort_keys=True, default=repr)
    return id(executor.operation), variables


def as_shared(result: ExecutionResult) -> ExecutionResult:
    """``result`` with its data marked for sharing, when it has no errors."""
    if result.errors or result.data is None:
        return result
    return ExecutionResult(SharedData(result.data), None, result.extensions)


async def shared_when_done(pending: Awaitable[ExecutionResult]) -> ExecutionResult:
    return as_shared(await pending)


def finished(payload: Any, key: Key) -> ExecutionResult | None:
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
    return done if shared_data(done) is not None else None


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
