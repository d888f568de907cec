"""Admins' feature-flag settings (the OpenFeature provider reads them through the port)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.feature_flags import FlagSetting
from persistence import tables as t
from persistence.repositories import _Repository

_c = t.feature_flag_settings.c
_INSERT: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_LOCK_SPACE = 0x6D676666  # this store's advisory locks: (space, hash of key and depot)


class SqlFlagSettings(_Repository):
    def __init__(self, connection: AsyncConnection, actor: UUID | None = None) -> None:
        super().__init__(connection)
        self._actor = actor

    async def for_depots(self, depot_ids: Collection[UUID]) -> list[FlagSetting]:
        statement = select(t.feature_flag_settings).order_by(_c.key, _c.depot_id)
        if depot_ids:
            statement = statement.where(or_(_c.depot_id.is_(None), _c.depot_id.in_(depot_ids)))
        else:
            statement = statement.where(_c.depot_id.is_(None))
        return [_setting(r) for r in await self._rows(statement)]

    async def get(self, key: str, depot_id: UUID | None) -> FlagSetting | None:
        rows = await self._rows(select(t.feature_flag_settings).where(*_same(key, depot_id)))
        return _setting(rows[0]) if rows else None

    async def get_for_update(self, key: str, depot_id: UUID | None) -> FlagSetting | None:
        if self._dialect == "postgresql":  # SQLite's writers already run one at a time
            await self._conn.execute(
                select(
                    func.pg_advisory_xact_lock(
                        _LOCK_SPACE, func.hashtext(_lock_name(key, depot_id))
                    )
                )
            )
        return await self.get(key, depot_id)

    async def put(self, key: str, depot_id: UUID | None, enabled: bool, at: datetime) -> None:
        statement = _INSERT[self._dialect](t.feature_flag_settings).values(
            id=uuid4(),
            key=key,
            depot_id=depot_id,
            enabled=enabled,
            updated_at=at,
            updated_by=self._actor,
        )
        target = (
            {"index_elements": ["key"], "index_where": t.GLOBAL_FLAG_SETTING}
            if depot_id is None
            else {"index_elements": ["depot_id", "key"], "index_where": t.DEPOT_FLAG_SETTING}
        )
        await self._conn.execute(
            statement.on_conflict_do_update(
                **target,
                set_={
                    "enabled": statement.excluded.enabled,
                    "updated_at": statement.excluded.updated_at,
                    "updated_by": statement.excluded.updated_by,
                },
            )
        )

    async def remove(self, key: str, depot_id: UUID | None) -> bool:
        result = await self._conn.execute(
            delete(t.feature_flag_settings).where(*_same(key, depot_id))
        )
        return bool(result.rowcount)


def _lock_name(key: str, depot_id: UUID | None) -> str:
    return f"{key}\n{depot_id or ''}"


def _same(key: str, depot_id: UUID | None) -> tuple[Any, ...]:
    depot = _c.depot_id.is_(None) if depot_id is None else _c.depot_id == depot_id
    return (_c.key == key, depot)


def _setting(row: Any) -> FlagSetting:
    return FlagSetting(row.key, row.depot_id, bool(row.enabled), row.updated_at, row.updated_by)
