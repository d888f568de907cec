"""A small GraphQL-over-HTTP client for API tests, using the named operations."""

from __future__ import annotations

from typing import Any

import httpx

from graphql_documents.operations import operation


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http = http
        self.token = token

    async def raw(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a request that must not produce GraphQL errors."""
        response = await self.raw(query, variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return dict(body["data"])

    async def op(self, name: str, **variables: Any) -> Any:
        """Run the named operation; returns its single root field's value."""
        data = await self.execute(operation(name), variables)
        (value,) = data.values()
        return value

    async def errors(self, query: str, variables: dict[str, Any] | None = None) -> list[Any]:
        response = await self.raw(query, variables)
        body = response.json()
        assert body.get("errors"), body
        return list(body["errors"])
