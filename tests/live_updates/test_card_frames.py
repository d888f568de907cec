"""Writing a frame at once, and finishing it later when the socket must wait;
what a subscriber's frame sink writes and what it leaves to the subscriber's
own task (live_updates/card_frames.py). The sink's collaborators are small fakes
here; tests/api/test_subscriptions.py runs it through the real app."""

from __future__ import annotations

import asyncio
import json

import pytest

from graphql import ExecutionResult
from live_updates.card_frames import FrameSink, send_now
from live_updates.shared_executions import SharedData, key_of, memo_of, share


async def test_a_send_that_need_not_wait_is_done_before_send_now_returns():
    written: list[str] = []

    async def send(frame: str) -> None:
        written.append(frame)

    assert send_now(send("one")) is None
    assert written == ["one"]


async def test_a_send_that_must_wait_finishes_in_order_once_the_socket_is_writable():
    writable = asyncio.Event()
    written: list[str] = []

    async def send(frame: str) -> None:
        await writable.wait()
        written.append(frame)

    pending = send_now(send("first"))
    assert pending is not None and written == []

    async def later() -> None:
        await send("second")

    after = asyncio.ensure_future(later())
    await asyncio.sleep(0.01)
    writable.set()
    await asyncio.gather(pending, after)
    assert written == ["first", "second"]


async def test_what_a_send_raises_before_waiting_reaches_the_caller():
    async def send() -> None:
        raise RuntimeError("closed")

    with pytest.raises(RuntimeError, match="closed"):
        send_now(send())


async def test_a_send_waiting_when_its_task_is_cancelled_sees_the_cancellation():
    seen: list[str] = []

    async def send() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    pending = send_now(send())
    assert pending is not None
    await asyncio.sleep(0)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert seen == ["cancelled"]


class _Socket:
    """Stands in for a Starlette WebSocket: sends wait while it is not writable."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.frames: list[str] = []

    async def send_text(self, frame: str) -> None:
        await self.writable.wait()
        self.frames.append(frame)


class _Handler:
    def __init__(self) -> None:
        self.operations: dict[str, object] = {}


class _Operation:
    def __init__(self, handler: _Handler, id: str) -> None:
        self.handler, self.id, self.completed = handler, id, False
        handler.operations[id] = self


class _Executor:
    """What a sink reads of the subscription's executor to find its shared results."""

    def __init__(self) -> None:
        self.operation = object()
        self.variable_values = type("Variables", (), {"coerced": {"depotId": "d1"}})()
        self.context_value = None


class _Update:
    pass


def _executed_update(executor: _Executor, revision: int) -> _Update:
    update = share(_Update())
    memo = memo_of(update)
    assert memo is not None
    data = SharedData({"microgridCard": {"card": {"revision": revision}}})
    memo[key_of(executor)] = (executor.operation, ExecutionResult(data, None))  # type: ignore[arg-type]
    return update


def _sink() -> tuple[FrameSink, _Socket, _Operation, _Executor]:
    socket, handler, executor = _Socket(), _Handler(), _Executor()
    operation = _Operation(handler, "7")
    return FrameSink(executor, operation, socket), socket, operation, executor  # type: ignore[arg-type]


async def test_a_sink_writes_the_next_frame_strawberry_would_send():
    sink, socket, _operation, executor = _sink()
    assert sink.deliver(_executed_update(executor, 3))
    assert [json.loads(f) for f in socket.frames] == [
        {
            "id": "7",
            "type": "next",
            "payload": {"data": {"microgridCard": {"card": {"revision": 3}}}},
        }
    ]


async def test_a_sink_declines_while_a_write_waits_then_writes_again_in_order():
    sink, socket, _operation, executor = _sink()
    socket.writable.clear()  # the client stopped reading: its buffers are full
    assert sink.deliver(_executed_update(executor, 1)), "taken: it finishes once writable"
    assert not sink.deliver(_executed_update(executor, 2)), "left to the subscriber's queue"
    socket.writable.set()
    await asyncio.sleep(0.01)
    assert sink.deliver(_executed_update(executor, 3))
    assert [
        json.loads(f)["payload"]["data"]["microgridCard"]["card"]["revision"] for f in socket.frames
    ] == [1, 3]


async def test_a_sink_declines_what_it_must_not_write():
    sink, socket, operation, executor = _sink()
    assert not sink.deliver(share(_Update())), "not executed (or with errors): nothing shared"
    operation.completed = True
    assert not sink.deliver(_executed_update(executor, 1)), "the operation has completed"
    operation.completed = False
    del operation.handler.operations["7"]
    assert not sink.deliver(_executed_update(executor, 1)), "the client completed it"
    assert socket.frames == []
