"""Timestamps: aware, between 2000-01-01T00:00:00Z and five minutes after now."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from domain.problems import FieldError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE_SKEW = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_MS = int((EARLIEST - EPOCH).total_seconds() * 1000)

READ_FLOOR = datetime(1, 1, 2, tzinfo=UTC)
READ_CEILING = datetime(9999, 1, 1, tzinfo=UTC)
"""Stored values are read within these bounds, leaving room for freshness arithmetic."""


def check_instant(value: datetime, now: datetime, path: str) -> datetime | FieldError:
    """``value`` in UTC, or why it is refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        return FieldError(path, "TIMEZONE_REQUIRED", "The timestamp must carry a UTC offset.")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return _out_of_range(path)
    if utc < EARLIEST:
        return _out_of_range(path)
    if utc > now + MAX_FUTURE_SKEW:
        return FieldError(
            path, "IN_THE_FUTURE", "The timestamp is more than 5 minutes ahead of the server clock."
        )
    return utc


def check_epoch_ms(value: object, now: datetime, path: str) -> tuple[datetime, int] | FieldError:
    """Whole milliseconds since the epoch (UTC), in the same window."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return FieldError(path, "WRONG_TYPE", "The timestamp must be whole milliseconds (UTC).")
    if isinstance(value, float) and not math.isfinite(value):
        return FieldError(path, "NOT_FINITE", "The timestamp must be a finite number.")
    if value != int(value):
        return FieldError(path, "WRONG_TYPE", "The timestamp must be whole milliseconds (UTC).")
    ms = int(value)
    latest_ms = int((now + MAX_FUTURE_SKEW - EPOCH).total_seconds() * 1000)
    if ms < EARLIEST_MS:
        return _out_of_range(path)
    if ms > latest_ms:
        return FieldError(
            path, "IN_THE_FUTURE", "The timestamp is more than 5 minutes ahead of the server clock."
        )
    return EPOCH + timedelta(milliseconds=ms), ms


def readable_instant(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime, whatever was stored (naive,
    ±infinity read as datetime.min/max, odd offsets): never raises."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        return READ_FLOOR if value.year < 5000 else READ_CEILING
    return min(max(utc, READ_FLOOR), READ_CEILING)


def readable_instant_text(text: object) -> datetime:
    """A timestamp stored as ISO text (event payloads); unreadable text reads as
    the floor, so a damaged row sorts first and never wins as latest."""
    if isinstance(text, str):
        if text.strip().lower() in ("infinity", "+infinity"):
            return READ_CEILING
        try:
            return readable_instant(datetime.fromisoformat(text))
        except ValueError:
            pass
    return READ_FLOOR


def plausibly_observed(observed_at: datetime, received_at: datetime) -> bool:
    """Whether a stored observation lies in the window the rules allow."""
    return EARLIEST <= observed_at <= received_at + MAX_FUTURE_SKEW


def _out_of_range(path: str) -> FieldError:
    return FieldError(
        path, "OUT_OF_RANGE", "The timestamp must lie between 2000-01-01T00:00:00Z and now."
    )
