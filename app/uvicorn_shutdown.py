"""A graceful stop for ``microgrid serve``: what happens on SIGTERM or SIGINT.

1. At once, ``/readyz`` answers 503 (``app.drain``) while everything is still
   served, for ``SHUTDOWN_DRAIN_SECONDS``, so load balancers stop sending
   new work here. A second signal ends this wait early.
2. The listener stops accepting; every open WebSocket is closed with 1001
   (going away) and its closing handshake is awaited; then uvicorn's own
   shutdown lets requests in flight finish. Everything after the listener
   closes is bounded by ``SHUTDOWN_GRACE_SECONDS``; past it, what is left is
   cancelled. A third signal forces the exit at once, as a second Ctrl+C
   does in plain uvicorn.
3. The application's lifespan ends (retention, revocation and silence checks,
   the broker stop; the engine is disposed) and the process exits 0.

The one module that relies on uvicorn's ``Server`` beyond its documented use
(``Config``, ``Server(config).run()``, ``timeout_graceful_shutdown``): it
overrides ``Server.handle_exit``, the handler uvicorn installs for both
signals, and reads ``servers``, ``server_state.connections``,
``should_exit``/``force_exit`` and ``config.ws_protocol_class``. Not calling
uvicorn's ``handle_exit`` also means the signal is not raised again once the
server is down (uvicorn re-raises the signals it captured, which would end
the process with 143, not 0). tests/app/test_uvicorn_shutdown_guard.py checks
each of those names and signatures against the installed uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import sys
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from app.drain import ASGIApp, Drain
from app.settings import Settings

logger = logging.getLogger("uvicorn.error")

HANDSHAKE_POLL_SECONDS = 0.05
"""How often the stop looks whether the closed WebSockets' peers have answered."""


class DrainingServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, drain: Drain, drain_seconds: float, grace_seconds: int
    ) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_seconds = drain_seconds
        self.grace_seconds = grace_seconds
        self.stopping: asyncio.Task[None] | None = None
        self._drain_cut: asyncio.Event | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """uvicorn's handler for SIGINT and SIGTERM. It runs as a signal
        handler, so it only hands the signal to the event loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not serving (yet): nothing to drain
            self.should_exit = True
            return
        loop.call_soon_threadsafe(self._signalled, sig)

    def _signalled(self, sig: int) -> None:
        name = signal.Signals(sig).name
        if self.stopping is None:
            logger.info(
                "%s: draining (/readyz answers 503) for %s s, then stopping",
                name,
                self.drain_seconds,
            )
            self._drain_cut = asyncio.Event()
            self.stopping = asyncio.create_task(self._stop())
        elif self._drain_cut is not None and not self._drain_cut.is_set():
            logger.info("%s again: ending the drain now", name)
            self._drain_cut.set()
        else:
            logger.info("%s again: stopping now, without waiting", name)
            self.force_exit = self.should_exit = True

    async def _stop(self) -> None:
        try:
            await self._drain_and_close()
        finally:  # whatever happened, uvicorn's own shutdown follows
            self.should_exit = True

    async def _drain_and_close(self) -> None:
        assert self._drain_cut is not None
        self.drain.begin()
        if self.drain_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drain_cut.wait(), self.drain_seconds)
        self._drain_cut.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace_seconds
        for server in getattr(self, "servers", ()):
            server.close()  # no new connections; uvicorn's shutdown closes them again, harmlessly
        open_sockets = self.drain.open_websockets
        # A peer that reads nothing holds its close frame back: bounded too.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain.close_websockets(), deadline - loop.time())
        await self._closing_handshakes(deadline)
        logger.info(
            "Closed the listener and %d WebSocket(s) with 1001; requests in flight may finish",
            open_sockets,
        )
        remaining = max(0, math.ceil(deadline - loop.time()))
        self.config.timeout_graceful_shutdown = remaining

    async def _closing_handshakes(self, deadline: float) -> None:
        """Waits until every WebSocket's peer has answered the close (its
        connection is gone), the deadline passes or a signal forces the exit.
        Nothing signals a connection's end to the application, so this looks
        every little while, as uvicorn's own shutdown does."""
        websocket = getattr(self.config, "ws_protocol_class", None)
        loop = asyncio.get_running_loop()
        while (  # noqa: ASYNC110 (no event to wait for: see the docstring)
            websocket is not None
            and not self.force_exit
            and loop.time() < deadline
            and any(isinstance(c, websocket) for c in self.server_state.connections)
        ):
            await asyncio.sleep(HANDSHAKE_POLL_SECONDS)


def run_draining(app: ASGIApp, settings: Settings, **uvicorn_settings: Any) -> None:
    """``uvicorn.run(app, **uvicorn_settings)`` for one process, stopping as
    the module docstring says."""
    drain = Drain(app)
    config = uvicorn.Config(
        drain, timeout_graceful_shutdown=settings.shutdown_grace_seconds, **uvicorn_settings
    )
    server = DrainingServer(
        config, drain, settings.shutdown_drain_seconds, settings.shutdown_grace_seconds
    )
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
