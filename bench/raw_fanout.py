"""Floors for the fan-out benchmark: a minimal Starlette WebSocket endpoint that
speaks just enough graphql-transport-ws (init -> ack, subscribe -> registered)
and, on POST /publish, sends one pre-encoded `next` message to every socket:
each from its own task, as a subscription's operation would
(`/publish?from=tasks`), or all from one loop (`/publish?from=loop`). No
GraphQL, database or broker: what remains is uvicorn, Starlette and the
loopback TCP sends.
Run: uvicorn bench.raw_fanout:app"""

from __future__ import annotations

import asyncio
import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

queues: set[asyncio.Queue[str]] = set()
sockets: dict[WebSocket, str] = {}
revision = 0


async def graphql_ws(websocket: WebSocket) -> None:
    await websocket.accept(subprotocol="graphql-transport-ws")
    await websocket.receive_text()
    await websocket.send_text('{"type":"connection_ack"}')
    subscribe = json.loads(await websocket.receive_text())
    operation_id = json.dumps(subscribe["id"])
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=64)
    queues.add(queue)
    sockets[websocket] = operation_id
    closed = asyncio.ensure_future(websocket.receive())  # the client's close frame
    try:
        await websocket.send_text(_message(operation_id, "SNAPSHOT"))
        while not closed.done():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            data = getter.result()
            await websocket.send_text(f'{{"id":{operation_id},"type":"next","payload":{data}}}')
    except WebSocketDisconnect:
        pass
    finally:
        closed.cancel()
        queues.discard(queue)
        sockets.pop(websocket, None)


def _message(operation_id: str, reason: str) -> str:
    return f'{{"id":{operation_id},"type":"next","payload":{_payload(reason)}}}'


def _payload(reason: str) -> str:
    card = {"revision": revision, "der": {"status": True}, "peakShaving": {"status": False}}
    return json.dumps({"data": {"microgridCard": {"reason": reason, "card": card}}})


async def publish(request: Request) -> JSONResponse:
    global revision
    revision += 1
    data = _payload("CAPABILITY_STATUS")
    if request.query_params.get("from") == "loop":
        for websocket, operation_id in list(sockets.items()):
            await websocket.send_text(f'{{"id":{operation_id},"type":"next","payload":{data}}}')
    else:
        for queue in list(queues):
            queue.put_nowait(data)
    return JSONResponse({"subscribers": len(queues)})


app = Starlette(
    routes=[Route("/publish", publish, methods=["POST"]), WebSocketRoute("/graphql", graphql_ws)]
)
