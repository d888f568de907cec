"""Strawberry names the service relies on outside Strawberry's documented API:
schema/strawberry_internals.py holds them (the handler the view installs,
its operations, the default executor class, the graphql-core schema), and
app/graphql_view.py and app/ws_frames.py override view hooks whose names carry
no underscore but whose shape is not documented. Fail here, not in
production, if an upgrade renames or reshapes one (Strawberry is pinned ~= in
pyproject.toml). The behaviour is covered end to end by
tests/api/test_transport_limits.py and tests/api/test_subscriptions.py."""

from __future__ import annotations

import inspect

import strawberry
from strawberry.asgi import GraphQL
from strawberry.http.async_base_view import AsyncBaseHTTPView

from app.ws_frames import SizedFrames
from graphql import Executor, GraphQLSchema
from schema.root import build_schema
from schema.strawberry_internals import (
    BaseGraphQLTransportWSHandler,
    Operation,
    StrawberryGraphQLCoreExecutionContext,
    graphql_schema,
    still_open,
)
from tests.support.internals import modules_naming


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


def test_the_view_installs_the_transport_ws_handler_we_subclass():
    assert "graphql_transport_ws_handler_class" in AsyncBaseHTTPView.__annotations__
    default = GraphQL.graphql_transport_ws_handler_class
    assert getattr(default, "__origin__", default) is BaseGraphQLTransportWSHandler
    for hook in ("run_operation", "send_message", "handle_subscribe"):
        assert _params(BaseGraphQLTransportWSHandler, hook)[1:] in (["operation"], ["message"])
    init = inspect.getsource(BaseGraphQLTransportWSHandler.__init__)
    for state in ("self.view =", "self.websocket =", "self.context =", "self.operations:"):
        assert state in init, state


def test_an_operation_carries_the_state_a_frame_sink_reads():
    assert {"completed", "handler", "id"} <= set(Operation.__slots__)
    assert _params(Operation, "__init__")[:3] == ["self", "handler", "id"]

    class Handler:
        operations: dict[str, object] = {}

    operation = Operation(Handler(), "1", "subscription { x }", None, None)  # type: ignore[arg-type]
    assert not still_open(operation), "not registered with its handler"
    Handler.operations["1"] = operation
    assert still_open(operation)
    operation.completed = True
    assert not still_open(operation)


def test_the_default_executor_class_is_the_one_the_schema_extends():
    assert issubclass(StrawberryGraphQLCoreExecutionContext, Executor)

    @strawberry.type
    class Query:
        ping: int = 1

    default = strawberry.Schema(query=Query).execution_context_class
    assert default is StrawberryGraphQLCoreExecutionContext


def test_the_graphql_core_schema_behind_a_strawberry_schema():
    assert isinstance(graphql_schema(build_schema()), GraphQLSchema)


def test_no_other_module_imports_these_names():
    names = (
        "strawberry.subscriptions.protocols",
        "strawberry.schema.schema",
        "._schema",
        "strawberry.extensions.runner",
        "_handle_execution_result",
        "_process_result",
    )
    assert modules_naming(names, "schema/strawberry_internals.py") == []
