"""PostgreSQL: the chart's minute and quarter-hour rollups answer what the raw
readings answer — when the migration builds them from readings stored before
it, and when the trigger folds in readings written after, late ones included."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text

from domain.readings import Reading, ReadingKind
from persistence import schema_upgrade
from persistence.database import create_engine
from persistence.partitions import epoch_us
from persistence.reading_store import BUCKETS_POSTGRESQL, buckets_from_rows
from persistence.unit_of_work import SqlUnitOfWorkFactory

pytestmark = pytest.mark.stores("postgresql")

START = datetime(2026, 11, 29, 23, 47, 13, 250_000, tzinfo=UTC)
END = START + timedelta(hours=5)


def _readings(depot: UUID, subjects: list[UUID], n: int, seed: int) -> list[Reading]:
    pick = random.Random(seed)
    return [
        Reading(
            depot,
            pick.choice(subjects),
            pick.choice(list(ReadingKind)),
            START + timedelta(microseconds=pick.randrange(0, 5 * 3600 * 10**6, 250_000)),
            pick.choice([0.0, 1.0, -1.0, pick.uniform(-1e9, 1e9)]),
        )
        for _ in range(n)
    ]


async def _insert_raw(url: str, readings: list[Reading]) -> None:
    """Readings as a server before the rollups wrote them."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for r in readings:
                column = {
                    ReadingKind.POWER_SOURCE_LOAD_W: "load_w",
                    ReadingKind.POWER_SOURCE_SOC_PERCENT: "soc_percent",
                    ReadingKind.CIRCUIT_AVAILABLE_CAPACITY_W: "available_w",
                    ReadingKind.CIRCUIT_FAIL_SAFE_CAPACITY_W: "fail_safe_w",
                    ReadingKind.CIRCUIT_EFFECTIVE_CAPACITY_W: "effective_w",
                }[r.kind]
                await conn.execute(
                    text(
                        f"INSERT INTO readings (depot_id, subject_id, observed_us, {column})"
                        " VALUES (:d, :s, :at, :v)"
                    ),
                    {
                        "d": r.depot_id,
                        "s": r.subject_id,
                        "at": epoch_us(r.observed_at),
                        "v": r.value,
                    },
                )
    finally:
        await engine.dispose()


async def _compare(url: str, depot: UUID) -> int:
    """Buckets from the rollups equal the raw statement's at every rollup width
    and several ranges; returns how many buckets were compared."""
    uow_factory = SqlUnitOfWorkFactory(create_engine(url))
    engine = create_engine(url)
    compared = 0
    try:
        for width in (60, 120, 300, 900, 3600, 86_400):
            for start, end in (
                (START, END),
                (START + timedelta(minutes=14), END - timedelta(minutes=29, seconds=1)),
                (START + timedelta(seconds=47), START + timedelta(minutes=3)),
            ):
                async with uow_factory(write=False) as uow:
                    found = await uow.readings.buckets(depot, start, end, width)
                low, high, w = epoch_us(start), epoch_us(end), width * 10**6
                async with engine.begin() as conn:
                    rows = await conn.execute(
                        BUCKETS_POSTGRESQL,
                        {"depot": depot, "start": low, "end": high, "width": w, "first": low // w},
                    )
                    raw = buckets_from_rows(rows.all())
                assert [(b.subject_id, b.kind, b.index, b.min, b.max, b.last) for b in found] == [
                    (b.subject_id, b.kind, b.index, b.min, b.max, b.last) for b in raw
                ], (width, start, end)
                assert [b.avg for b in found] == pytest.approx(
                    [b.avg for b in raw], rel=1e-9, abs=1e-6
                )
                compared += len(found)
    finally:
        await engine.dispose()
        await uow_factory.engine.dispose()
    return compared


def test_the_migration_builds_what_the_trigger_keeps(request):
    from tests.support import services

    url, name = services.create_postgres_database()
    try:
        schema_upgrade.downgrade(url, "0008")
        depot, subjects = uuid4(), [uuid4(), uuid4(), uuid4()]
        asyncio.run(_insert_raw(url, _readings(depot, subjects, 400, seed=1)))
        schema_upgrade.upgrade(url)
        assert asyncio.run(_compare(url, depot)) > 0
        late = _readings(depot, subjects, 400, seed=2)  # into the same cells, any order
        asyncio.run(_insert_raw(url, late[:200]))
        asyncio.run(_insert_raw(url, late[200:]))
        assert asyncio.run(_compare(url, depot)) > 0
    finally:
        services.drop_postgres_database(name)
