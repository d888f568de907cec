"""Turning GraphQL ID strings into UUIDs; a malformed id is simply one that doesn't exist."""

from __future__ import annotations

from uuid import UUID


def parse_id(value: str | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        return None
