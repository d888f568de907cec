"""The card revision of many microgrids in one query: what a process's
silence check compares its followers against."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence import tables as t

_REVISIONS = select(t.microgrids.c.id, t.microgrids.c.revision).where(
    t.microgrids.c.id.in_(bindparam("ids", expanding=True)), t.ACTIVE_MICROGRID
)
CHUNK = 5_000


async def card_revisions(engine: AsyncEngine, microgrid_ids: Collection[UUID]) -> dict[UUID, int]:
    """The revision of each of these microgrids that is still active (one query per 5,000)."""
    ids = list(microgrid_ids)
    revisions: dict[UUID, int] = {}
    async with engine.connect() as conn:
        for start in range(0, len(ids), CHUNK):
            rows = await conn.execute(_REVISIONS, {"ids": ids[start : start + CHUNK]})
            revisions.update((row.id, int(row.revision)) for row in rows)
    return revisions
