"""app/uvicorn_shutdown.py overrides uvicorn's ``Server.handle_exit`` and reads
some of the server's state: if an upgrade renames or reshapes those, this
fails (rather than a deploy silently dropping screens, or the process exiting
by the signal again)."""

from __future__ import annotations

import inspect
import signal

import uvicorn
from uvicorn import server as uvicorn_server

from app.uvicorn_shutdown import DrainingServer


def _params(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def _source(function: object) -> str:
    return inspect.getsource(function)  # type: ignore[arg-type]


def test_the_signal_handler_it_overrides():
    assert issubclass(DrainingServer, uvicorn.Server)
    assert _params(uvicorn.Server.handle_exit) == ["self", "sig", "frame"]
    assert {signal.SIGINT, signal.SIGTERM} <= set(uvicorn_server.HANDLED_SIGNALS)
    capture = _source(uvicorn.Server.capture_signals)
    assert "signal.signal(sig, self.handle_exit)" in capture
    # Why the override does not call uvicorn's: the signals it records are
    # raised again after the shutdown, and the process would end by SIGTERM.
    assert "self._captured_signals.append(sig)" in _source(uvicorn.Server.handle_exit)
    assert "signal.raise_signal(captured_signal)" in capture


def test_the_state_it_reads_and_sets():
    config = uvicorn.Config(app=lambda *_: None, ws="websockets-sansio")
    server = uvicorn.Server(config)
    assert server.should_exit is False and server.force_exit is False
    assert isinstance(server.server_state.connections, set)
    assert "self.servers" in _source(uvicorn.Server.startup)
    shutdown = _source(uvicorn.Server.shutdown)
    assert "for server in self.servers:" in shutdown and "server.close()" in shutdown
    # Read at shutdown time, so the stop can hand it what is left of the grace.
    assert "timeout=self.config.timeout_graceful_shutdown" in shutdown
    assert "self.force_exit" in _source(uvicorn.Server._wait_tasks_to_complete)
    assert "if self.should_exit:" in _source(uvicorn.Server.on_tick)
    config.load()
    assert isinstance(config.ws_protocol_class, type)
    assert config.ws_protocol_class.__name__ == "WebSocketsSansIOProtocol"


def test_a_closed_websocket_stays_a_connection_until_its_peer_answers():
    from uvicorn.protocols.websockets import websockets_sansio_impl

    protocol = websockets_sansio_impl.WebSocketsSansIOProtocol
    assert "self.connections.remove(self)" in _source(protocol.connection_lost)
    assert "self.close_timer = self.loop.call_later" in _source(protocol.send)
