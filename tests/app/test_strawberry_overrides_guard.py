"""app/graphql_view.py and app/ws_frames.py override Strawberry view hooks
whose names carry no underscore but whose shape is not documented: fail here,
not in production, if an upgrade changes them. (Their behaviour is covered
end to end by tests/api/test_transport_limits.py.)"""

from __future__ import annotations

import inspect

from strawberry.asgi import GraphQL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from app.ws_frames import SizedFrames


def _params(owner: type, name: str) -> list[str]:
    return list(inspect.signature(getattr(owner, name)).parameters)


def test_view_hooks():
    assert _params(GraphQL, "execute_single") == [
        "self",
        "request",
        "request_adapter",
        "sub_response",
        "context",
        "root_value",
        "request_data",
    ]
    assert _params(GraphQL, "parse_http_body") == ["self", "request"]
    assert _params(GraphQL, "parse_json") == ["self", "data"]
    assert "websocket_adapter_class" in vars(GraphQL)


def test_websocket_adapter_and_handler():
    assert _params(SizedFrames.__mro__[1], "iter_json") == ["self", "ignore_parsing_errors"]
    assert "self.ws = response" in inspect.getsource(SizedFrames.__mro__[1].__init__)
    source = inspect.getsource(BaseGraphQLTransportWSHandler.handle_connection_init)
    assert "self.connection_acknowledged = True" in source
