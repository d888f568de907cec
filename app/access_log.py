"""The service's access log (uvicorn's is off): one line per HTTP request once
it has completed, one when a WebSocket opens and one when it closes, with
OpenTelemetry semantic-convention names; and the request id every line logged
while serving the request carries, echoed in the ``X-Request-ID`` header.

Never logged: the query string, tokens, ``Authorization`` or any other header
but the user agent, GraphQL variables, request or message bodies."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from app.log_format import FoldedIntoAccessLine, RequestLog, current_request

log = logging.getLogger("microgrid.access")
CLIENT_ERRORS_LOGGER = "microgrid.errors"
"""Where the schema logs a request's client errors (folded into its access line)."""

REQUEST_ID_HEADER = b"x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_SUMMARY_CHARS = 200
"""Longest client text quoted in a line's body (its own field has more)."""


def request_id_of(header: bytes | None) -> str:
    """The client's ``X-Request-ID`` when it is 1-128 of ``[A-Za-z0-9._-]``, else a new one."""
    if header is not None and len(header) <= 128:
        candidate = header.decode("latin-1")
        if _REQUEST_ID.fullmatch(candidate):
            return candidate
    return os.urandom(16).hex()


def _with_request_id(message: Message, request_id: str) -> Message:
    headers = list(message.get("headers") or ())
    headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
    return {**message, "headers": headers}


class AccessLog:
    """ASGI middleware: sets :data:`current_request` for the request and, when
    ``enabled`` (``ACCESS_LOG``), writes its access lines. It sits inside the
    OpenTelemetry middleware when tracing is on, so lines carry its span."""

    def __init__(self, app: ASGIApp, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled
        if enabled:
            errors = logging.getLogger(CLIENT_ERRORS_LOGGER)
            if not any(isinstance(f, FoldedIntoAccessLine) for f in errors.filters):
                errors.addFilter(FoldedIntoAccessLine())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = user_agent = traceparent = None
        for key, value in scope.get("headers") or ():
            if key == REQUEST_ID_HEADER:
                request_id = value
            elif key == b"user-agent":
                user_agent = value
            elif key == b"traceparent":
                traceparent = value
        request = RequestLog(
            request_id_of(request_id),
            traceparent.decode("latin-1") if traceparent is not None else None,
            folds_errors=self.enabled and scope["type"] == "http",
        )
        token = current_request.set(request)
        if scope["type"] == "http":
            await self._http(scope, receive, send, request, user_agent)
        else:
            await self._websocket(scope, receive, send, request, user_agent)
        # Left set when the app raised: the server's report of the exception,
        # logged once this returns (in the request's own task), names the request.
        current_request.reset(token)

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, request: RequestLog, agent: bytes | None
    ) -> None:
        started = perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = _with_request_id(message, request.request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500
            raise
        finally:
            if self.enabled:
                self._log_http(scope, request, agent, status, perf_counter() - started)

    def _log_http(
        self,
        scope: Scope,
        request: RequestLog,
        agent: bytes | None,
        status: int | None,
        seconds: float,
    ) -> None:
        method, path = scope.get("method", ""), scope.get("path", "")
        attributes = _common(scope, agent)
        attributes.update(
            {
                "http.request.method": method,
                "http.response.status_code": status,
                "http.server.request.duration": round(seconds, 6),
                "network.protocol.version": scope.get("http_version"),
            }
        )
        summary = f"{method} {_summary_text(path)} {status if status is not None else '-'}"
        if request.operation_type is not None or request.operation_name is not None:
            attributes["graphql.operation.name"] = request.operation_name
            attributes["graphql.operation.type"] = request.operation_type
            name = _summary_text(request.operation_name or "-")
            summary += f" {request.operation_type or 'operation'} {name}"
        if request.error_type is not None:
            attributes["error.type"] = request.error_type
            summary += f": {request.error_message}"
        # No status: the client went away before the answer (its own doing).
        level = logging.WARNING if status is not None and status >= 500 else logging.INFO
        log.log(level, "%s", summary, extra={"attributes": attributes})

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, request: RequestLog, agent: bytes | None
    ) -> None:
        opened: float | None = None
        close_code: int | None = None
        closed_by: str | None = None

        async def sending(message: Message) -> None:
            nonlocal opened, close_code, closed_by
            kind = message["type"]
            if kind == "websocket.accept":
                message = _with_request_id(message, request.request_id)
                opened = perf_counter()
                if self.enabled:
                    self._log_ws(scope, agent, "open")
            elif kind == "websocket.close" and close_code is None:
                close_code, closed_by = int(message.get("code") or 1000), "server"
            await send(message)

        async def receiving() -> Message:
            nonlocal close_code, closed_by
            message = await receive()
            if message["type"] == "websocket.disconnect" and close_code is None:
                close_code, closed_by = int(message.get("code") or 1005), "client"
            return message

        try:
            await self.app(scope, receiving, sending)
        finally:
            if self.enabled:
                extra: dict[str, Any] = {
                    "websocket.close.code": close_code,
                    "websocket.close.initiator": closed_by,
                }
                if opened is not None:
                    extra["websocket.duration"] = round(perf_counter() - opened, 6)
                self._log_ws(scope, agent, "close", extra)

    def _log_ws(
        self, scope: Scope, agent: bytes | None, event: str, extra: dict[str, Any] | None = None
    ) -> None:
        attributes = _common(scope, agent)
        attributes["websocket.event"] = event
        attributes.update(extra or {})
        summary = f"WEBSOCKET {_summary_text(scope.get('path', ''))} {event}"
        if event == "close":
            code = (extra or {}).get("websocket.close.code")
            summary += f" {code if code is not None else '-'}"
        log.info("%s", summary, extra={"attributes": attributes})


def _common(scope: Scope, agent: bytes | None) -> dict[str, Any]:
    client = scope.get("client")
    return {
        "url.path": scope.get("path", ""),
        "client.address": client[0] if client else None,
        "user_agent.original": agent.decode("latin-1") if agent is not None else None,
    }


def _summary_text(text: str) -> str:
    """A client's text (a path, an operation name) as a line's body quotes it:
    short, and without characters that would break the line."""
    clipped = text[:_SUMMARY_CHARS] + ("…" if len(text) > _SUMMARY_CHARS else "")
    return clipped if clipped.isprintable() else repr(clipped)[1:-1]


class OperationNoted(SchemaExtension):
    """Tells the access log which GraphQL operation an HTTP request asked for:
    its name and (when the document parsed) its type, also when the operation
    was refused before it ran. WebSocket operations are not logged."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            request = current_request.get()
            if request is not None and request.folds_errors:
                context = self.execution_context
                name = context.operation_name  # a client may send any JSON there
                request.operation_name = name if isinstance(name, str) else None
                with contextlib.suppress(RuntimeError):  # no document, or no such operation
                    request.operation_type = context.operation_type.value
