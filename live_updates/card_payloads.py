"""What the card follower hands every local subscriber of one change."""

from __future__ import annotations

from domain.live import CardUpdate
from live_updates.shared_executions import share
from schema.subscription import card_update


def card_payload(update: CardUpdate) -> object:
    """The schema's object for ``update`` (the one each subscriber's
    subscription field maps it to), marked so that subscribers with the same
    document and variables share its execution."""
    return share(card_update(update))
