"""The attacks made of sockets: slow and silent HTTP sockets, and WebSocket
frames far past the size a message may have."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

from bench.hostile_http import HOST, KEEP, post, status_of
from bench.hostile_target import Tally, Target, senders


async def attack_slow_sockets(
    t: Target, seconds: float, trickle: int = 200, silent: int = 50, slow_body: int = 50
) -> Tally:
    """Trickle a header line every 2 s, send nothing, or trickle a declared body;
    report how many sockets the server still held at the end."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    started = loop.time()
    tally = Tally()
    closed_after: list[float] = []

    async def hold(kind: str, i: int) -> None:
        try:
            reader, writer = await asyncio.open_connection(HOST, t.port)
        except OSError as exc:
            tally.outcomes[f"{kind}: connect {type(exc).__name__}"] += 1
            return
        tally.sent += 1
        if kind == "trickle":
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        elif kind == "slow body":
            writer.write(post(b"", t.operator, content_length=t.max_body))
        read = asyncio.ensure_future(reader.read(KEEP))
        try:
            line = 0
            while loop.time() < deadline:
                done, _ = await asyncio.wait({read}, timeout=min(2.0, deadline - loop.time()))
                if done:
                    status = status_of(read.result()) if not read.exception() else None
                    tally.outcomes[f"{kind}: closed by server ({status or 'no answer'})"] += 1
                    closed_after.append(loop.time() - started)
                    return
                line += 1
                if kind == "trickle":
                    writer.write(f"X-Slow-{line}: {i}\r\n".encode())
                elif kind == "slow body":
                    writer.write(b" ")
            tally.outcomes[f"{kind}: still open"] += 1
        except OSError as exc:
            tally.outcomes[f"{kind}: {type(exc).__name__}"] += 1
            closed_after.append(loop.time() - started)
        finally:
            read.cancel()
            writer.close()

    kinds = ["trickle"] * trickle + ["silent"] * silent + ["slow body"] * slow_body
    await asyncio.gather(*(hold(kind, i) for i, kind in enumerate(kinds)))
    if closed_after:
        tally.notes.append(
            f"server closed them after median {statistics.median(closed_after):.1f} s"
        )
    return tally


CARD_SUB = "subscription ($d: ID!) { microgridCard(depotId: $d) { reason } }"


def _reply(message: dict[str, Any]) -> str:
    if message.get("type") == "error":
        errors = message.get("payload") or [{}]
        return f"error {errors[0].get('extensions', {}).get('code') or errors[0].get('message')}"
    return str(message.get("type"))


async def attack_frames(t: Target, seconds: float, pre: int = 3, post_ack: int = 2) -> Tally:
    """WebSocket frames of `frame_bytes`: `connection_init` before any ack, and
    `subscribe` after a valid one. No compression, so the bytes are on the wire."""
    import websockets
    from websockets.typing import Subprotocol

    url = f"ws://{HOST}:{t.port}/graphql"
    junk = "x" * t.frame_bytes
    tally = Tally(
        notes=[
            f"{t.frame_bytes / 2**20:.1f} MiB frames, {pre} clients before the ack, "
            f"{post_ack} after"
        ]
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def connect() -> Any:
        return await websockets.connect(
            url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            compression=None,
            max_size=None,
            open_timeout=10,
            close_timeout=2,
            ping_interval=None,
        )

    def closed(kind: str, exc: BaseException) -> None:
        code = getattr(getattr(exc, "rcvd", None), "code", None)
        tally.outcomes[f"{kind}: close {code}" if code else f"{kind}: {type(exc).__name__}"] += 1

    def init(**extra: str) -> str:
        payload = {"Authorization": f"Bearer {t.operator}", **extra}
        return json.dumps({"type": "connection_init", "payload": payload})

    async def exchange(kind: str, wait: float, talk: Callable[[Any], Awaitable[None]]) -> None:
        """Connects, lets ``talk`` use the socket, and tallies how it ended."""
        try:
            async with asyncio.timeout(wait):
                ws = await connect()
                try:
                    await talk(ws)
                finally:
                    await ws.close()
        except TimeoutError:
            tally.outcomes[f"{kind}: timeout"] += 1
        except (websockets.ConnectionClosed, OSError, websockets.InvalidHandshake) as exc:
            closed(kind, exc)

    async def before_ack(_n: int, wait: float) -> None:
        tally.sent += 1

        async def talk(ws: Any) -> None:
            await ws.send(init(junk=junk))
            tally.outcomes[f"init: {_reply(json.loads(await ws.recv()))}"] += 1

        await exchange("init", wait, talk)

    async def after_ack(n: int, wait: float) -> None:
        async def talk(ws: Any) -> None:
            await ws.send(init())
            await ws.recv()
            while loop.time() < deadline:
                tally.sent += 1
                variables = {"d": t.depot_id, "junk": junk}
                await ws.send(
                    json.dumps(
                        {
                            "id": f"{n}-{tally.sent}",
                            "type": "subscribe",
                            "payload": {"query": CARD_SUB, "variables": variables},
                        }
                    )
                )
                reply = json.loads(await ws.recv())
                tally.outcomes[f"subscribe: {_reply(reply)}"] += 1

        await exchange("subscribe", wait, talk)

    await asyncio.gather(senders(pre, deadline, before_ack), senders(post_ack, deadline, after_ack))
    return tally
