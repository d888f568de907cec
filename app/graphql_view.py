"""The Strawberry ASGI view: authentication for HTTP and graphql-transport-ws."""

from __future__ import annotations

import json
import sys
import weakref
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from app.auth import bearer_token
from app.container import Container
from domain.access import Principal
from domain.ports import Dependencies
from persistence.unit_of_work import SqlUnitOfWorkFactory
from resolvers.context import RequestContext
from schema.card_frames import running_operation
from schema.shared_events import encode_next_message


class _LeanOperationsHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """graphql-transport-ws, with what an open screen keeps kept small: card
    updates are written from the card follower (``schema.card_frames``), so an
    idle subscription holds only its own state. Together with the resolver
    releasing its snapshot, ~3.8 KiB less per subscription (bench/README.md)."""

    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        running_operation.set(operation)  # this task's own: see schema.card_frames
        await super().run_operation(operation)

    async def handle_subscribe(self, message: Any) -> None:
        """Screens send the same document: one copy of its text, not one each."""
        payload = message.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("query"), str):
            payload["query"] = sys.intern(payload["query"])
        await super().handle_subscribe(message)

    async def send_message(self, message: Any) -> None:
        """A sent result stays referenced by the operation's stream until the
        next one: empty it once sent (shared data, still being sent to other
        subscribers, is left alone)."""
        await super().send_message(message)
        if message.get("type") == "next":
            data = message["payload"].get("data")
            if type(data) is dict:
                data.clear()


class MicrogridGraphQL(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = _LeanOperationsHandler

    def __init__(self, container: Container, **kwargs: Any) -> None:
        settings = container.settings
        from schema.root import build_schema

        super().__init__(
            build_schema(
                introspection=settings.introspection,
                max_depth=settings.max_query_depth,
                max_aliases=settings.max_aliases,
                max_tokens=settings.max_tokens,
                max_cost=settings.max_query_cost,
                max_response_bytes=settings.max_response_bytes,
            ),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            **kwargs,
        )
        self.container = container
        # Shared by the open connections of one token (one per screen adds up),
        # dropped with the last of them.
        self._actor_deps: weakref.WeakValueDictionary[UUID, Dependencies] = (
            weakref.WeakValueDictionary()
        )

    def parse_json(self, data: str | bytes) -> Any:
        """HTTP bodies: one operation as a JSON object; anything else is a
        client error (400), never a crash."""
        try:
            parsed = json.loads(data)
        except ValueError as error:
            raise HTTPException(400, "Unable to parse request body as JSON") from error
        if isinstance(parsed, list):
            raise HTTPException(400, "Batching is not enabled: send one operation per request.")
        if not isinstance(parsed, dict):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        """WebSocket frames: a frame that is not a JSON object closes the socket
        with 4400, as one that is not JSON does."""
        parsed = json.loads(data)
        if not isinstance(parsed, dict):
            raise json.JSONDecodeError("a message must be a JSON object", str(data), 0)
        return parsed

    def encode_json(self, data: object) -> str | bytes:
        return encode_next_message(data) or super().encode_json(data)

    def _context(self) -> RequestContext:
        return RequestContext(
            deps=self.container.deps,
            hub=self.container.hub,
            card_broadcasts=self.container.card_broadcasts,
        )

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> RequestContext:
        context = self._context()
        context.request, context.response = request, response
        principal = request.scope.get("principal")
        if principal is not None:
            self._act_as(context, principal)
        return context

    def _act_as(self, context: RequestContext, principal: Principal) -> None:
        """The principal, and use-case dependencies whose audit entries name its token."""
        context.principal = principal
        factory = self.container.deps.uow
        if isinstance(factory, SqlUnitOfWorkFactory):
            deps = self._actor_deps.get(principal.token_id)
            if deps is None:
                deps = replace(self.container.deps, uow=factory.for_actor(principal.token_id))
                self._actor_deps[principal.token_id] = deps
            context.deps = deps

    async def on_ws_connect(self, context: RequestContext) -> dict[str, object] | None:
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        token = bearer_token(raw) if isinstance(raw, str) else None
        if token is None and isinstance(params.get("token"), str):
            token = params["token"]
        principal = (
            await self.container.tokens.authenticate(token, self.container.deps.clock.now())
            if token
            else None
        )
        if principal is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        self._act_as(context, principal)
        if isinstance(context.request, WebSocket):
            self.container.revocations.watch(context.request, principal.token_id)
        return None
