"""One card update object per shared card read, for every local subscriber."""

from __future__ import annotations

from uuid import UUID

from domain.card import Card
from domain.changes import ChangeReason
from schema.types import MicrogridCardUpdate


class SharedCardUpdates:
    """The same update object for every local subscriber woken by one shared
    card read (``SharedCardReads`` hands them the same ``Card``), so the GraphQL
    execution and JSON encoding of that update happen once
    (``schema.shared_events``). Only the last update per microgrid is kept."""

    def __init__(self) -> None:
        self._last: dict[UUID, tuple[Card, ChangeReason, MicrogridCardUpdate]] = {}

    def of(self, reason: ChangeReason, card: Card) -> MicrogridCardUpdate:
        last = self._last.get(card.microgrid.id)
        if last is not None and last[0] is card and last[1] is reason:
            return last[2]
        update = MicrogridCardUpdate.of(reason, card)
        self._last[card.microgrid.id] = (card, reason, update)
        return update
