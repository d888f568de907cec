"""Strings: no NUL, no lone surrogates, no control characters outside free
text, and a length that fits what the string is."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from domain.problems import FieldError

FREE_TEXT_CONTROLS = frozenset("\t\n\r")


@dataclass(frozen=True)
class TextRule:
    min_length: int
    max_length: int
    free_text: bool = False
    strip: bool = False


NAME = TextRule(1, 200, strip=True)
"""Depot, circuit, power source, gateway and device names (trimmed)."""
PROVIDER_EVENT_REF = TextRule(1, 200)
SHORT = TextRule(0, 256)
"""Status and identity strings: sensor ids, units, manufacturer, model, ..."""
IDENTITY = TextRule(1, 256)
MODEL_NAME = TextRule(0, 200)
"""A gateway's site model name (stored in 200 characters)."""
FREE_TEXT = TextRule(0, 2000, free_text=True)


def forbidden_character(value: str, free_text: bool = False) -> str | None:
    """The first character ``value`` may not hold, if any."""
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cs" or ch == "\x00":
            return ch
        if category in ("Cc", "Zl", "Zp") and not (free_text and ch in FREE_TEXT_CONTROLS):
            return ch
    return None


def check_text(value: object, path: str, rule: TextRule) -> str | FieldError:
    """``value`` (trimmed for names), or why it is refused."""
    if not isinstance(value, str):
        return FieldError(path, "WRONG_TYPE", "Must be a string.")
    if len(value) > rule.max_length * 4:
        return _too_long(path, rule)
    bad = forbidden_character(value, rule.free_text)
    if bad is not None:
        return FieldError(
            path,
            "INVALID_CHARACTERS",
            f"Must not contain control characters or lone surrogates (found U+{ord(bad):04X}).",
        )
    text = value.strip() if rule.strip else value
    if len(text.strip()) < rule.min_length:
        return FieldError(path, "REQUIRED", "Must not be empty.")
    if len(text) > rule.max_length:
        return _too_long(path, rule)
    return text


def repaired(value: str, rule: TextRule, fallback: str) -> str:
    """``value`` with every forbidden character replaced by U+FFFD and cut to
    length: how a stored string from before the rules is made readable."""
    text = "".join(
        "\ufffd" if forbidden_character(ch, rule.free_text) else ch for ch in value
    ).strip()
    return text[: rule.max_length] or fallback


def _too_long(path: str, rule: TextRule) -> FieldError:
    return FieldError(path, "TOO_LONG", f"At most {rule.max_length} characters.")
