"""Whether a result's JSON passes a cap (the backstop behind the query cost
limit: a response over the cap is answered with an error instead of its
body): measured by encoding it as the HTTP view does, or, for what that
encoder refuses, estimated by a walk that stops as soon as it passes."""

from __future__ import annotations

from typing import Any

import orjson

_SCALAR = 8
"""Bytes counted for a number, boolean or null (and a key's quotes and colon)."""


def over_cap(data: Any, cap: int) -> bool:
    """Whether ``data`` encodes to more than ``cap`` bytes of JSON. Encoding a
    7-day chart with orjson costs a fraction of walking it (bench/README.md,
    "Issue 15"); the result budget bounds what it can hold."""
    try:
        return len(orjson.dumps(data)) > cap
    except TypeError:
        return larger_than(data, cap)


def larger_than(data: Any, cap: int) -> bool:
    """Whether ``data`` encodes to more than ``cap`` bytes of JSON (strings that
    are not ASCII are counted at their escaped worst, 6 bytes a character).
    An object's plain values are counted where they stand, not queued one by
    one: a load chart's points are most of a large answer."""
    size = 0
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            size += _text(value)
        elif isinstance(value, dict):
            size += 2
            for key, item in value.items():
                size += len(key) + _SCALAR if isinstance(key, str) else _SCALAR
                kind = type(item)
                if kind is float or item is None or kind is int or kind is bool:
                    size += _SCALAR
                elif kind is str:
                    size += _text(item)
                else:
                    pending.append(item)
        elif isinstance(value, (list, tuple)):
            size += 2 + len(value)
            pending.extend(value)
        else:
            size += _SCALAR
        if size > cap:
            return True
    return False


def _text(value: str) -> int:
    return len(value) + 3 if value.isascii() else 6 * len(value) + 3
