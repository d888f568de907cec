"""The feature-flag settings store: the same answers on SQLite, PostgreSQL and
the in-memory fakes; one setting per (key, depot) and one global per key,
enforced by the databases' partial unique indexes (NULL depot included)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from domain.access import EVERYWHERE
from domain.depots import NewCircuit, create_depot
from domain.feature_flags import FlagSetting
from persistence import tables as t

T = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
KEY = "new-microgrid-fields-load-chart"


async def _depots(deps, n: int = 2):
    made = [await create_depot(deps, EVERYWHERE, f"D{i}", [NewCircuit("F")]) for i in range(n)]
    return [m.depot.id for m in made]


def _keyed(settings):
    return {(s.key, s.depot_id): (s.enabled, s.updated_at) for s in settings}


async def test_put_get_replace_and_remove_globally_and_per_depot(deps):
    a, b = await _depots(deps)
    async with deps.uow() as uow:
        await uow.flags.put(KEY, None, True, T)
        await uow.flags.put(KEY, a, False, T)
        await uow.flags.put("other", b, True, T)
        await uow.commit()
    async with deps.uow(write=False) as uow:
        assert await uow.flags.get(KEY, None) == FlagSetting(KEY, None, True, T)
        assert await uow.flags.get(KEY, a) == FlagSetting(KEY, a, False, T)
        assert await uow.flags.get(KEY, b) is None
        assert _keyed(await uow.flags.for_depots([a])) == {
            (KEY, None): (True, T),
            (KEY, a): (False, T),
        }
        assert _keyed(await uow.flags.for_depots([])) == {(KEY, None): (True, T)}
        assert len(await uow.flags.for_depots([a, b])) == 3

    later = T + timedelta(minutes=5)
    async with deps.uow() as uow:
        await uow.flags.put(KEY, None, False, later)  # replaces, never a second row
        await uow.flags.put(KEY, a, True, later)
        assert await uow.flags.remove("other", b) is True
        assert await uow.flags.remove("other", b) is False
        assert await uow.flags.remove(KEY, b) is False
        await uow.commit()
    async with deps.uow(write=False) as uow:
        assert _keyed(await uow.flags.for_depots([a, b])) == {
            (KEY, None): (False, later),
            (KEY, a): (True, later),
        }


async def test_nothing_is_kept_without_commit(deps):
    (a,) = await _depots(deps, 1)
    async with deps.uow() as uow:
        await uow.flags.put(KEY, a, True, T)
    async with deps.uow(write=False) as uow:
        assert await uow.flags.for_depots([a]) == []


@pytest.mark.database_only("the partial unique indexes are the database's own rules")
async def test_the_database_refuses_a_second_setting_for_a_key_and_depot_null_included(deps):
    (a,) = await _depots(deps, 1)
    engine = deps.uow.engine
    for depot_id in (None, a):
        row = {"key": KEY, "depot_id": depot_id, "enabled": True, "updated_at": T}
        async with engine.begin() as conn:
            await conn.execute(insert(t.feature_flag_settings).values(id=uuid4(), **row))
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(insert(t.feature_flag_settings).values(id=uuid4(), **row))


@pytest.mark.database_only("concurrent transactions on a real database")
async def test_concurrent_puts_of_one_setting_leave_one_row(deps):
    (a,) = await _depots(deps, 1)

    async def put(depot_id, enabled):
        async with deps.uow() as uow:
            await uow.flags.put(KEY, depot_id, enabled, T)
            await uow.commit()

    await asyncio.gather(*(put(d, i % 2 == 0) for i in range(6) for d in (None, a)))
    async with deps.uow.engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(t.feature_flag_settings))
    assert count == 2


@pytest.mark.database_only("the acting token is the SQL unit of work's")
async def test_a_setting_names_the_acting_token(deps):
    (a,) = await _depots(deps, 1)
    token = uuid4()
    async with deps.uow.for_actor(token)() as uow:
        await uow.flags.put(KEY, a, True, T)
        await uow.commit()
    async with deps.uow(write=False) as uow:
        assert (await uow.flags.get(KEY, a)).updated_by == token
