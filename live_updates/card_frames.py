"""Card updates written straight to each subscriber's socket.

Waking one operation task per subscriber for every change (each passing the
update through graphql-core's response stream, Strawberry's operation and the
WebSocket wrappers) was most of a card fan-out: the same frames written from
one loop reach the last of many sockets much sooner (bench/README.md,
fan-out). A :class:`FrameSink` is that loop's view of one graphql-transport-ws
subscription: the card follower has the selection executed once per group of
identical subscriptions (``live_updates.shared_executions``), then hands each
waiting subscriber its ``next`` frame in one pass.

Whatever a sink cannot write at once goes the usual way, through the
subscriber's own task: a result with errors, an operation the client has
completed, a socket that is not writable (a slow reader: its own task then
waits, and its bounded queue decides when it is too slow)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator
from contextvars import ContextVar
from typing import Any

from starlette.websockets import WebSocket

from graphql import Executor
from live_updates import shared_executions
from live_updates.executor import running_subscription
from schema.strawberry_internals import Operation, still_open

running_operation: ContextVar[Operation[Any, Any] | None] = ContextVar(
    "running_operation", default=None
)
"""The graphql-transport-ws operation the current task runs (set by
``live_updates.ws_handler``)."""


class FrameSink:
    """Writes one subscription's shared updates straight to its socket."""

    __slots__ = ("_executor", "_key", "_operation", "_sending", "_socket")

    def __init__(self, executor: Executor[Any], operation: Operation[Any, Any], socket: WebSocket):
        self._executor = executor
        self._key = shared_executions.key_of(executor)
        self._operation = operation
        self._socket = socket
        self._sending: asyncio.Task[None] | None = None

    def prepare(self, payload: object) -> Awaitable[None] | None:
        if shared_executions.finished(payload, self._key) is not None:
            return None
        fresh_reads = getattr(self._executor.context_value, "fresh_reads", None)
        if fresh_reads is not None:
            fresh_reads()
        return shared_executions.start(self._executor, payload, self._key)

    def deliver(self, payload: object) -> bool:
        result = shared_executions.finished(payload, self._key)
        data = shared_executions.shared_data(result) if result is not None else None
        operation = self._operation
        if data is None or self._sending is not None or not still_open(operation):
            return False
        frame = shared_executions.next_frame(operation.id, data)
        try:
            self._sending = send_now(self._socket.send_text(frame))
        except Exception:  # not sent (the socket is closing): the subscriber's task will see why
            return False
        if self._sending is not None:
            self._sending.add_done_callback(self._sent)
        return True

    def _sent(self, sending: asyncio.Task[None]) -> None:
        self._sending = None
        if not sending.cancelled():
            sending.exception()  # retrieved: the subscriber's next send reports a closed socket


def frame_sink() -> FrameSink | None:
    """A sink for the subscription the current task runs, when it runs over
    graphql-transport-ws on a WebSocket (the request of its context)."""
    operation = running_operation.get()
    executor = running_subscription.get()
    if operation is None or executor is None:
        return None
    socket = getattr(executor.context_value, "request", None)
    if not isinstance(socket, WebSocket):
        return None
    return FrameSink(executor, operation, socket)


def send_now(send: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Runs ``send`` at once, up to its first real wait: ``None`` when it
    finished (a writable socket never waits), otherwise a task that finishes it.
    Like Python 3.12's eager tasks, without a task for the common case.
    Raises what ``send`` raised before waiting."""
    try:
        waiting_on = send.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(_Resumed(send, waiting_on)))


async def _finish(rest: _Resumed) -> None:
    await rest


class _Resumed:
    """The rest of a coroutine that was started by hand and is waiting on
    ``waiting_on``: awaiting this hands the task what the coroutine yielded, and
    the coroutine what the task sends or throws, as if the task had run it from
    the start (the same steps, in the same turns of the loop)."""

    __slots__ = ("_coroutine", "_waiting_on")

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, yielded = self._coroutine, self._waiting_on
        self._waiting_on = None
        while True:
            try:
                sent = yield yielded
            except BaseException as error:
                try:
                    yielded = coroutine.throw(error)
                except StopIteration:
                    return
                continue
            try:
                yielded = coroutine.send(sent)
            except StopIteration:
                return
