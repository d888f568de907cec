"""Closing WebSockets whose token was revoked or expired while they were open."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ports import Clock
from persistence.tokens import active_among

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

REVOCATION_CHECK_SECONDS = 2.0
FORBIDDEN = 4403
REVOKED = "Forbidden: token revoked or expired"


class RevocationWatch:
    """Every ``period`` seconds, one query for the tokens of all open sockets of
    this process (not one per socket); a socket whose token is no longer active
    is closed with 4403. A failed check is retried at the next period."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock, period: float = REVOCATION_CHECK_SECONDS
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._period = period
        self._sockets: dict[int, tuple[WebSocket, UUID]] = {}
        self._task: asyncio.Task[None] | None = None

    def watch(self, websocket: WebSocket, token_id: UUID) -> None:
        self._sockets[id(websocket)] = (websocket, token_id)
        if self._task is None or self._task.done():
            # Its own context, not the first socket's (that connection's span and statement tally).
            self._task = asyncio.create_task(self._run(), context=contextvars.Context())

    async def _run(self) -> None:
        while self._sockets:
            await asyncio.sleep(self._period)
            with contextlib.suppress(Exception):
                await self.sweep()

    async def sweep(self) -> None:
        from starlette.websockets import WebSocketState

        for key, (websocket, _token) in list(self._sockets.items()):
            if WebSocketState.DISCONNECTED in (websocket.application_state, websocket.client_state):
                del self._sockets[key]
        if not self._sockets:
            return
        tokens = {token for _ws, token in self._sockets.values()}
        active = await active_among(self._engine, tokens, self._clock.now())
        for key, (websocket, token_id) in list(self._sockets.items()):
            if token_id not in active:
                del self._sockets[key]
                with contextlib.suppress(Exception):
                    await websocket.close(code=FORBIDDEN, reason=REVOKED)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
