"""Card updates written straight to each subscriber's socket.

Waking one operation task per subscriber for every change (each passing the
update through graphql-core's response stream, Strawberry's operation and the
WebSocket wrappers) was most of a card fan-out: with 1,000 screens on one card,
the same frames written from one loop reached the last socket about three times
sooner (bench/README.md, fan-out). A :class:`FrameSink` is that loop's view of
one graphql-transport-ws subscription: the card follower has the selection
executed once per group of identical subscriptions (``schema.shared_events``),
then hands each waiting subscriber its ``next`` frame in one pass.

Whatever a sink cannot write at once goes the usual way, through the
subscriber's own task: a result with errors, an operation the client has
completed, a socket that is not writable (a slow reader: its own task then
waits, and its bounded queue decides when it is too slow)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextvars import ContextVar
from typing import Any

from graphql.execution.executor import Executor
from starlette.websockets import WebSocket
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from graphql import OperationType
from schema import shared_events

running_operation: ContextVar[Operation[Any, Any] | None] = ContextVar(
    "running_operation", default=None
)
"""The graphql-transport-ws operation the current task runs (set by the view's handler)."""

_running_subscription: ContextVar[Executor[Any] | None] = ContextVar(
    "running_subscription", default=None
)


class SubscriptionAwareExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, remembering (for the task that runs it) the
    subscription it was built for: a sink executes updates as that
    subscription's own events would be."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        executor = super().build(*args, **kwargs)
        if (
            isinstance(executor, Executor)
            and executor.operation.operation is OperationType.SUBSCRIPTION
        ):
            _running_subscription.set(executor)
        return executor


class FrameSink:
    """Writes one subscription's shared updates straight to its socket."""

    __slots__ = ("_executor", "_key", "_operation", "_sending", "_socket")

    def __init__(self, executor: Executor[Any], operation: Operation[Any, Any], socket: WebSocket):
        self._executor = executor
        self._key = shared_events.key_of(executor)
        self._operation = operation
        self._socket = socket
        self._sending: asyncio.Task[None] | None = None

    def prepare(self, update: object) -> Any:
        if shared_events.finished(update, self._key) is not None:
            return None
        fresh_reads = getattr(self._executor.context_value, "fresh_reads", None)
        if fresh_reads is not None:
            fresh_reads()
        return shared_events.start(self._executor, update, self._key)

    def deliver(self, update: object) -> bool:
        result = shared_events.finished(update, self._key)
        operation = self._operation
        if (
            result is None
            or self._sending is not None
            or operation.completed
            or operation.handler.operations.get(operation.id) is not operation
        ):
            return False
        frame = shared_events.next_frame(operation.id, result.shared_data)
        try:
            self._sending = send_eagerly(self._socket.send_text(frame))
        except Exception:  # not sent (the socket is closing): the subscriber's task will see why
            return False
        if self._sending is not None:
            self._sending.add_done_callback(self._sent)
        return True

    def _sent(self, sending: asyncio.Task[None]) -> None:
        self._sending = None
        if not sending.cancelled():
            sending.exception()  # retrieved: the subscriber's next send reports a closed socket


def frame_sink(socket: object) -> FrameSink | None:
    """A sink for the subscription the current task runs, when it runs over
    graphql-transport-ws on ``socket``."""
    operation = running_operation.get()
    executor = _running_subscription.get()
    if operation is None or executor is None or not isinstance(socket, WebSocket):
        return None
    return FrameSink(executor, operation, socket)


def send_eagerly(send: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Runs ``send`` at once, up to its first real wait: ``None`` when it
    finished (a writable socket never waits), otherwise a task that finishes it.
    Like Python 3.12's eager tasks, without a task for the common case.
    Raises what ``send`` raised before waiting."""
    try:
        waiting_on = send.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(send, waiting_on))


async def _finish(send: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    while True:
        try:
            if waiting_on is None:  # a bare yield: asyncio.sleep(0)
                await asyncio.sleep(0)
            else:  # a future, flagged by the coroutine's await; a task clears it too
                waiting_on._asyncio_future_blocking = False
                await waiting_on
        except BaseException as error:  # handed to the coroutine, as a task would
            try:
                waiting_on = send.throw(error)
            except StopIteration:
                return
            continue
        try:
            waiting_on = send.send(None)
        except StopIteration:
            return
