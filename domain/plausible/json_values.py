"""JSON values from outside (packets, gateway translations): bounded depth and
size, finite numbers, strings without NUL or lone surrogates, anywhere."""

from __future__ import annotations

import json
import math
from typing import Any

from domain.plausible.text import forbidden_character
from domain.problems import FieldError

MAX_DEPTH = 32
MAX_BYTES = 64 * 1024
MAX_NODES = MAX_BYTES
"""Each value takes at least one byte of the encoding, so a walk stops here."""


def check_json(value: object, path: str, max_bytes: int = MAX_BYTES) -> tuple[FieldError, ...]:
    """Why ``value`` is not a plausible JSON value; empty when it is.

    The walk is iterative and stops at the first structural problem, so no
    input can make it recurse or run long."""
    errors: list[FieldError] = []
    stack: list[tuple[object, str, int]] = [(value, path, 1)]
    nodes = 0
    while stack:
        item, where, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return (_too_large(path, max_bytes),)
        if depth > MAX_DEPTH:
            return (FieldError(where, "TOO_DEEP", f"JSON nesting is limited to {MAX_DEPTH}."),)
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or forbidden_character(key, free_text=True):
                    errors.append(
                        FieldError(where, "INVALID_CHARACTERS", "Keys must be plain strings.")
                    )
                    continue
                stack.append((child, f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            errors.append(FieldError(where, "NOT_FINITE", "Numbers must be finite."))
        elif isinstance(item, str) and forbidden_character(item, free_text=True):
            errors.append(
                FieldError(
                    where, "INVALID_CHARACTERS", "Strings must not hold NUL or lone surrogates."
                )
            )
        elif not (item is None or isinstance(item, bool | int | float | str)):
            errors.append(FieldError(where, "WRONG_TYPE", "Not a JSON value."))
        if len(errors) >= 20:
            break
    if errors:
        return tuple(errors)
    if encoded_size(value) > max_bytes:
        return (_too_large(path, max_bytes),)
    return ()


def encoded_size(value: object) -> int:
    """Bytes of the canonical encoding (compact, UTF-8) of a checked value."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def readable_json(value: Any) -> Any:
    """A stored JSON value with every non-finite number read as null and every
    unencodable string repaired, so a response built from it is valid JSON.
    Values that need no repair (all but damaged rows) are returned as they are."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except (ValueError, TypeError, RecursionError):
        return _repaired(value, 0)
    return value


def _repaired(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH * 2:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode() if _has_surrogate(value) else value
    if isinstance(value, dict):
        return {_repaired(str(k), depth): _repaired(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_repaired(v, depth + 1) for v in value]
    return value if value is None or isinstance(value, bool | int) else None


def _has_surrogate(value: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in value)


def _too_large(path: str, max_bytes: int) -> FieldError:
    return FieldError(path, "TOO_LARGE", f"At most {max_bytes // 1024} KiB of JSON.")
