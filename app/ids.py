"""New row ids: UUIDs in the version-7 layout (RFC 9562), the Unix time in
milliseconds first, then 74 random bits. Ids made later sort later, so every
primary-key index takes its inserts at its right edge instead of at a random
leaf: the events index, kept for ever, stays as cheap to insert into at
millions of rows as when empty (bench/README.md, "Issue 16: growth")."""

from __future__ import annotations

import os
import time
from uuid import UUID

_MS_MASK = (1 << 48) - 1


def time_ordered_id(unix_ms: int | None = None) -> UUID:
    """A new id; ``unix_ms`` (default now) sets its time prefix."""
    ms = (time.time_ns() // 1_000_000 if unix_ms is None else unix_ms) & _MS_MASK
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = (rand >> 62) & 0xFFF, rand & ((1 << 62) - 1)
    return UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b)
