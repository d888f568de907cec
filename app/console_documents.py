"""The console's GraphQL documents, served read-only from graphql/operations.

The console names the operation it sends; this answers with the operation and
the fragments it uses, so the browser needs no GraphQL parser and the documents
stay in graphql/operations, validated against the schema with every other one.
Only the console's own operations (named ``Console…``) are served: the others
are tools' and tests' documents, and nothing else of the schema is published
(introspection stays as configured)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from graphql_documents.operations import operation, operation_names

CONSOLE_PREFIX = "Console"


def console_operation_names() -> list[str]:
    return [name for name in operation_names() if name.startswith(CONSOLE_PREFIX)]


async def console_operation(request: Request) -> PlainTextResponse:
    name = request.path_params["name"]
    if name not in console_operation_names():
        raise HTTPException(404, f"No console operation {name!r}.")
    return PlainTextResponse(
        operation(name),
        media_type="application/graphql",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


console_operation_route = Route("/console/operations/{name}.graphql", console_operation)
"""Listed before the console's static mount, which would otherwise answer 404."""
