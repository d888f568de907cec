"""Writing a frame at once, and finishing it later when the socket must wait
(schema/card_frames.py)."""

from __future__ import annotations

import asyncio

import pytest

from schema.card_frames import send_eagerly


async def test_a_send_that_need_not_wait_is_done_before_send_eagerly_returns():
    written: list[str] = []

    async def send(frame: str) -> None:
        written.append(frame)

    assert send_eagerly(send("one")) is None
    assert written == ["one"]


async def test_a_send_that_must_wait_finishes_in_order_once_the_socket_is_writable():
    writable = asyncio.Event()
    written: list[str] = []

    async def send(frame: str) -> None:
        await writable.wait()
        written.append(frame)

    pending = send_eagerly(send("first"))
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
        send_eagerly(send())


async def test_a_send_waiting_when_its_task_is_cancelled_sees_the_cancellation():
    seen: list[str] = []

    async def send() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    pending = send_eagerly(send())
    assert pending is not None
    await asyncio.sleep(0)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert seen == ["cancelled"]
