"""Patch arguments: each field is a value, an explicit null, or left out (KEEP)."""

from __future__ import annotations

from uuid import UUID

from domain.circuits import KEEP, Keep
from resolvers.ids import parse_id


def patched_id(value: str | Keep | None) -> UUID | Keep | None:
    """KEEP stays KEEP, null stays null; a malformed id becomes None (check it)."""
    if isinstance(value, Keep):
        return KEEP
    return None if value is None else parse_id(value)
