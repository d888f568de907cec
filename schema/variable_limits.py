"""Lists in the variables, as sent, before graphql-core coerces them.

Coercion walks every item (60,000 circuits held the loop for 2.8 s before the
role check refused them): the raw JSON is checked first, in one pass over it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schema.query_limits import MAX_LIST_ITEMS


def first_long_list(variables: Mapping[str, Any] | None) -> tuple[str, int] | None:
    """The path and length of a list over :data:`MAX_LIST_ITEMS` anywhere in
    ``variables`` (declared or not), or ``None``."""
    pending: list[tuple[str, Any]] = [(f"${name}", v) for name, v in (variables or {}).items()]
    while pending:
        path, value = pending.pop()
        if isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                return path, len(value)
            pending.extend((f"{path}[{i}]", item) for i, item in enumerate(value) if _nested(item))
        elif isinstance(value, dict):
            pending.extend((f"{path}.{key}", item) for key, item in value.items() if _nested(item))
    return None


def _nested(value: Any) -> bool:
    return isinstance(value, (list, dict))
