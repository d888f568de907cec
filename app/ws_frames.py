"""graphql-transport-ws frames read within limits: before ``connection_ack``
at most 16 KiB, after it at most the body cap; a bigger frame closes the
socket with 1009 (Message Too Big) unread. A frame that is not strict JSON
(app.strict_json), or not a well-formed message, closes it with 4400. Close
reasons are cut to what a close frame may carry."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonTextMessageReceived

from app import strict_json

PRE_ACK_FRAME_BYTES = 16 * 1024
TOO_BIG = 1009
BAD_MESSAGE = 4400


def _utf8_size_over(text: str, limit: int) -> bool:
    return len(text) > limit or (len(text) * 4 > limit and len(text.encode()) > limit)


class SizedFrames(ASGIWebSocketAdapter):
    """The view's WebSocket adapter; the handler raises ``frame_limit`` once
    it has acknowledged the connection."""

    frame_limit = PRE_ACK_FRAME_BYTES

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        while self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                text = await self.ws.receive_text()
            except WebSocketDisconnect:
                return
            except KeyError as error:  # a binary frame
                raise NonTextMessageReceived from error
            if _utf8_size_over(text, self.frame_limit):
                await self.close(TOO_BIG, f"A message may be at most {self.frame_limit} bytes.")
                return
            try:
                message = strict_json.loads(text)
            except strict_json.JsonRefused as refused:
                if ignore_parsing_errors:
                    continue
                await self.close(BAD_MESSAGE, refused.detail[:100])
                return
            if (problem := message_problem(message)) is not None:
                await self.close(BAD_MESSAGE, problem)
                return
            yield message

    async def close(self, code: int, reason: str) -> None:
        """A close frame carries at most 123 bytes of reason (RFC 6455): a longer
        one (Strawberry's 4409 quotes the client's operation id) made the
        WebSocket library raise instead of closing."""
        await super().close(code, close_reason(reason))


MAX_CLOSE_REASON_BYTES = 123


def close_reason(reason: str) -> str:
    encoded = reason.encode("utf-8", "replace")
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return reason
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."


def _optional(payload: Mapping[str, Any], key: str, kind: type) -> bool:
    return payload.get(key) is None or isinstance(payload[key], kind)


def message_problem(message: object) -> str | None:
    """Why ``message`` is not a graphql-transport-ws message, if it is not."""
    if not isinstance(message, dict):
        return "A message must be a JSON object."
    if not isinstance(message.get("type"), str):
        return "A message needs a string `type`."
    if message["type"] in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return "A message of this type needs a string `id`."
    if message["type"] == "subscribe":
        payload = message.get("payload")
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and _optional(payload, "variables", dict)
            and _optional(payload, "extensions", dict)
            and _optional(payload, "operationName", str)
        ):
            return "`subscribe` needs a payload with a string `query`."
    return None
