"""A small GraphQL-over-HTTP client for the simulator, using the named operations."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from graphql_documents.operations import operation


class ServiceError(RuntimeError):
    """The service answered with GraphQL errors or an HTTP error."""


class ServiceClient:
    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        if not self.url.endswith("/graphql"):
            self.url += "/graphql"
        self._http = httpx.AsyncClient(
            timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )

    async def op(self, name: str, **variables: Any) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self.url, json={"query": operation(name), "variables": variables}
            )
        except httpx.HTTPError as error:
            raise ServiceError(f"{name}: cannot reach {self.url}: {error}") from error
        try:
            body = response.json()
        except ValueError as error:
            raise ServiceError(f"{name}: HTTP {response.status_code}, not JSON") from error
        if body.get("errors"):
            first = body["errors"][0]
            code = first.get("extensions", {}).get("code", "ERROR")
            raise ServiceError(f"{name}: {code}: {first.get('message')}")
        return dict(body["data"])

    async def wait_ready(self, seconds: float) -> None:
        """Wait until the service's /readyz answers 200 (it is starting up)."""
        ready = self.url.removesuffix("/graphql") + "/readyz"
        deadline = time.monotonic() + seconds
        while True:
            try:
                if (await self._http.get(ready)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                raise ServiceError(f"{ready} did not answer 200 within {seconds:g} s")
            await asyncio.sleep(0.25)

    async def close(self) -> None:
        await self._http.aclose()
