"""app/slow_clients.py subclasses uvicorn's httptools protocol and overrides
its parser callbacks: if an upgrade renames or reshapes them, this fails
(rather than slow clients silently never timing out again)."""

from __future__ import annotations

import inspect

from uvicorn.protocols.http import httptools_impl

from app.slow_clients import GuardedHttpTools


def _params(name: str) -> list[str]:
    return list(inspect.signature(getattr(httptools_impl.HttpToolsProtocol, name)).parameters)


def test_the_protocol_class_and_its_constructor():
    assert issubclass(GuardedHttpTools, httptools_impl.HttpToolsProtocol)
    assert _params("__init__") == ["self", "config", "server_state", "app_state", "_loop"]
    source = inspect.getsource(httptools_impl.HttpToolsProtocol.__init__)
    assert "self.loop =" in source


def test_the_callbacks_it_overrides():
    assert _params("connection_made") == ["self", "transport"]
    assert _params("connection_lost") == ["self", "exc"]
    assert _params("data_received") == ["self", "data"]
    assert _params("handle_websocket_upgrade") == ["self"]
    for callback in ("on_message_begin", "on_headers_complete", "on_message_complete"):
        assert _params(callback) == ["self"], callback
    source = inspect.getsource(httptools_impl.HttpToolsProtocol.connection_made)
    assert "self.transport = transport" in source
