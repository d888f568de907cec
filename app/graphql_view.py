"""The Strawberry ASGI view: authentication for HTTP and graphql-transport-ws."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast
from uuid import UUID

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app import strict_json
from app.access_log import OperationNoted
from app.auth import bearer_token
from app.container import Container
from app.operation_metrics import operation_extensions
from app.problems import TransportProblem, from_http_exception
from app.storage_errors import storage_unavailable
from app.ws_frames import SizedFrames
from domain.access import Principal
from domain.ports import Dependencies
from live_updates.executor import LiveExecutor
from live_updates.shared_executions import encode_next_message
from live_updates.ws_handler import LiveOperationsHandler
from persistence.unit_of_work import SqlUnitOfWorkFactory
from resolvers.context import RequestContext
from resolvers.errors import problem

TRY_AGAIN_LATER = 1013


class TokenCheckUnavailable(Exception):
    """The token could not be checked: the database is unreachable right now."""

    reason = "Database unreachable: retry"


class _OperationsHandler(LiveOperationsHandler):
    """Live delivery's handler, with the service's transport limits: frames
    may be as large as a request body once the connection is acknowledged."""

    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except TokenCheckUnavailable:
            # Not 4403: the token may well be good. 1013 (try again later) is
            # what a reconnecting client takes as "back off, then retry".
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=TokenCheckUnavailable.reason)
            return
        if self.connection_acknowledged and isinstance(self.websocket, SizedFrames):
            self.websocket.frame_limit = cast(MicrogridGraphQL, self.view).max_body_bytes

    async def send_message(self, message: Any) -> None:
        """An error the protocol handler writes itself (the subscription limit)
        gets its code like every other."""
        if message.get("type") == "error":
            message = {**message, "payload": [_coded(e) for e in message.get("payload") or ()]}
        await super().send_message(message)


def _coded(error: Any) -> Any:
    if not isinstance(error, dict) or "extensions" in error:
        return error
    detail = str(error.get("message", ""))
    if detail == "Subscription limit reached":
        detail = "Too many subscriptions on this connection (MAX_SUBSCRIPTIONS_PER_CONNECTION)."
        extensions = problem("TOO_MANY_SUBSCRIPTIONS", "Too many subscriptions", 429, detail)
    else:
        extensions = problem("BAD_REQUEST", "Bad request", 400, detail)
    return {**error, "message": detail, "extensions": extensions}


class MicrogridGraphQL(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = _OperationsHandler
    websocket_adapter_class = SizedFrames

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
                max_result_items=settings.max_result_items,
                storage_unavailable=storage_unavailable,
                executor=LiveExecutor,
                extensions=(
                    container.telemetry.operation_extension()
                    if container.telemetry
                    else OperationNoted,
                    *operation_extensions(container.metrics if settings.metrics_enabled else None),
                ),
            ),
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            **kwargs,
        )
        self.container = container
        self.max_body_bytes = settings.max_body_bytes
        # Shared by the open connections of one token (one per screen adds up),
        # dropped with the last of them.
        self._actor_deps: weakref.WeakValueDictionary[UUID, Dependencies] = (
            weakref.WeakValueDictionary()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """HTTP refusals answer in the RFC 9457 JSON shape, not plain text."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as error:
            response = from_http_exception(error)
        await response(scope, receive, send)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "POST" and content_type != "application/json":
            raise TransportProblem(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                "Send the operation as `Content-Type: application/json`.",
            )
        return await super().parse_http_body(request)

    def parse_json(self, data: str | bytes) -> Any:
        """HTTP bodies: one operation as a strict JSON object; anything else is
        a coded client error (400), never a crash."""
        try:
            parsed = strict_json.loads(data)
        except strict_json.JsonRefused as refused:
            raise TransportProblem(400, refused.code, refused.title, refused.detail) from None
        if isinstance(parsed, list):
            raise TransportProblem(
                400,
                "BATCHING_NOT_SUPPORTED",
                "Batching not supported",
                "Batching is not enabled: send one operation per request.",
            )
        if not isinstance(parsed, dict):
            raise TransportProblem(
                400, "BAD_REQUEST", "Bad request", "The request body must be a JSON object."
            )
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        return strict_json.loads(data)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Queries and mutations, over POST only; subscriptions need the WebSocket."""
        if request_adapter.method != "POST":
            raise TransportProblem(
                405,
                "METHOD_NOT_ALLOWED",
                "Method not allowed",
                "Send operations with POST.",
                headers={"Allow": "POST"},
            )
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types={OperationType.QUERY, OperationType.MUTATION},
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError:
            raise TransportProblem(
                400,
                "SUBSCRIPTION_NEEDS_WEBSOCKET",
                "Subscription needs a WebSocket",
                "Subscriptions run over a WebSocket (graphql-transport-ws) at /graphql,"
                " not over HTTP POST.",
            ) from None
        except CannotGetOperationTypeError as error:
            raise TransportProblem(
                400, "BAD_REQUEST", "Bad request", error.as_http_error_reason().rstrip(".") + "."
            ) from None
        except MissingQueryError:
            raise TransportProblem(
                400, "BAD_REQUEST", "Bad request", "No GraphQL query found in the request."
            ) from None

    def encode_json(self, data: object) -> str | bytes:
        """Shared ``next`` messages reuse their encoding; anything else goes
        through orjson (a 7-day chart is megabytes: bench/README.md, "Issue
        15"), or the standard library for what orjson refuses (a lone
        surrogate quoted in an error, an integer past 64 bits)."""
        shared = encode_next_message(data)
        if shared is not None:
            return shared
        try:
            return orjson.dumps(data).decode()
        except TypeError:
            return super().encode_json(data)

    def _context(self) -> RequestContext:
        return RequestContext(
            deps=self.container.deps,
            hub=self.container.hub,
            card_updates=self.container.card_followers,
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
        # Shielded: a client that closes while its token is being checked
        # cancels this task, and a cancelled checkout logs the pool's traceback.
        try:
            principal = (
                await asyncio.shield(
                    self.container.tokens.authenticate(token, self.container.deps.clock.now())
                )
                if token
                else None
            )
        except Exception as error:
            if storage_unavailable(error):
                raise TokenCheckUnavailable from error
            raise
        if principal is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        self._act_as(context, principal)
        if isinstance(context.request, WebSocket):
            self.container.revocations.watch(context.request, principal.token_id)
        return None
