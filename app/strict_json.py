"""Strict JSON for request bodies and WebSocket frames: RFC 8259 only (UTF-8;
no NaN, Infinity or numbers that overflow to them; no lone surrogates) and
at most :data:`MAX_NESTING` levels of nesting. The C parser refuses runaway
nesting itself (a RecursionError, caught here); the limit is then checked
level by level, without recursion."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from domain.plausible.json_values import MAX_DEPTH

MAX_NESTING = MAX_DEPTH + 3
"""A packet's own levels inside a request body's object, its ``variables`` and
a batch's list: every packet a single ingest would judge is judged on its own
in a batch too, instead of the whole request being refused."""


class JsonRefused(ValueError):
    """The text is not a JSON value this service reads."""

    code = "INVALID_JSON"
    title = "Invalid JSON"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class JsonTooDeep(JsonRefused):
    code = "JSON_TOO_DEEP"
    title = "JSON nested too deeply"


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether lists and objects in ``value`` nest deeper than ``limit``."""
    level: list[Any] = [value] if type(value) is list or type(value) is dict else []
    for _ in range(limit):
        level = [
            item
            for container in level
            for item in (container.values() if type(container) is dict else container)
            if type(item) is list or type(item) is dict
        ]
        if not level:
            return False
    return bool(level)


def _lone_surrogate_in(value: object) -> bool:
    """Whether a string anywhere in ``value`` holds half a surrogate pair (the
    parser joins escaped pairs, so any surrogate left is a lone one)."""
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            if _SURROGATES.search(item):
                return True
        elif type(item) is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return False


_SURROGATES = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"The number {text[:40]} is out of range.")
    return value


def loads(data: str | bytes, max_nesting: int = MAX_NESTING) -> Any:
    """The JSON value of ``data``, or :class:`JsonRefused` saying why not."""
    too_deep = JsonTooDeep(f"JSON may be nested at most {max_nesting} levels deep.")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise JsonRefused("The body is not UTF-8 encoded JSON.") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except JsonRefused:
        raise
    except RecursionError:
        raise too_deep from None
    except ValueError as error:
        raise JsonRefused(f"The body is not valid JSON: {str(error)[:200]}") from None
    if text.count("[") + text.count("{") > max_nesting and nested_deeper_than(value, max_nesting):
        raise too_deep
    if ("\\ud" in text or "\\uD" in text) and _lone_surrogate_in(value):
        raise JsonRefused("Strings must be valid Unicode: a lone surrogate (\\ud800-\\udfff).")
    return value
