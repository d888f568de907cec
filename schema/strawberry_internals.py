"""Every use of a Strawberry name outside its documented API, in one module
(DESIGN §1); tests/app/test_strawberry_internals_guard.py checks each name and
signature against the installed Strawberry (pinned ``~=`` in pyproject.toml).

- ``StrawberryGraphQLCoreExecutionContext``: the executor class Strawberry
  uses unless told otherwise. Passing our own through ``execution_context_class``
  is public; this base (which builds Strawberry's resolve info) is not
  exported from ``strawberry.schema``.
- The graphql-transport-ws handler (``BaseGraphQLTransportWSHandler``) and its
  ``Operation``: exported by their module's ``__all__`` and installed through
  the view's ``graphql_transport_ws_handler_class``, but neither is documented,
  nor is the handler's per-operation state.
- ``Schema._schema``: the graphql-core schema behind a Strawberry schema,
  which validation needs; Strawberry has no public accessor for it."""

from __future__ import annotations

from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from graphql import GraphQLSchema

__all__ = [
    "BaseGraphQLTransportWSHandler",
    "Operation",
    "StrawberryGraphQLCoreExecutionContext",
    "graphql_schema",
    "still_open",
]


def graphql_schema(schema: Any) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema executes."""
    found: GraphQLSchema = schema._schema
    return found


def still_open(operation: Operation[Any, Any]) -> bool:
    """Whether ``operation`` may still send: neither completed by the server
    nor completed (or replaced) by the client."""
    return not operation.completed and operation.handler.operations.get(operation.id) is operation
