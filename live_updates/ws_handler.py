"""The graphql-transport-ws handler as live delivery needs it (the view's
``graphql_transport_ws_handler_class``, set by the composition root)."""

from __future__ import annotations

import sys
from typing import Any

from live_updates.card_frames import running_operation
from schema.strawberry_internals import BaseGraphQLTransportWSHandler, Operation


class LiveOperationsHandler(BaseGraphQLTransportWSHandler[Any, None]):
    """graphql-transport-ws, with what an open screen keeps kept small: card
    updates are written from the card follower (``live_updates.card_frames``),
    so an idle subscription holds only its own state (bench/README.md, memory
    per subscription)."""

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        running_operation.set(operation)  # this task's own: see live_updates.card_frames
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
