"""PostgreSQL: the chart tables are partitioned by time, a DEFAULT partition
takes what no partition covers, and creating partitions ahead is idempotent
and moves what the DEFAULT partition held for the new range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import text

from domain.readings import CapacityReport, Reading, ReadingKind
from persistence import partitions
from persistence.database import create_engine

pytestmark = pytest.mark.stores("postgresql")

WHERE_IS = text(
    "SELECT tableoid::regclass::text FROM readings WHERE depot_id = :depot ORDER BY observed_us"
)


async def test_readings_land_in_their_days_partition_or_the_default(database_url, deps):
    now = datetime.now(UTC)
    depot, source = uuid4(), uuid4()
    old = datetime(2001, 1, 1, tzinfo=UTC)
    async with deps.uow() as uow:
        await uow.readings.add(
            [
                Reading(depot, source, ReadingKind.POWER_SOURCE_LOAD_W, old, 1.0),
                Reading(depot, source, ReadingKind.POWER_SOURCE_LOAD_W, now, 2.0),
            ],
            [CapacityReport(depot, uuid4(), now, 1.0, None, "ok")],
        )
        await uow.commit()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            places = (await conn.execute(WHERE_IS, {"depot": depot})).scalars().all()
            kinds = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT c.relname, p.partstrat::text FROM pg_partitioned_table p "
                            "JOIN pg_class c ON c.oid = p.partrelid"
                        )
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    (today,) = (s for s in partitions.partition_starts(now) if s <= now < s + partitions.WIDTH)
    assert places == [
        "reading_partitions.readings_default",
        f"reading_partitions.{partitions.partition_name('readings', today)}",
    ]
    partitioned = [*partitions.PARTITIONED, *partitions.PACKET_PARTITIONED]
    assert kinds == dict.fromkeys(partitioned, "r")


async def test_creating_partitions_is_idempotent_and_moves_default_rows(database_url, deps):
    later = datetime.now(UTC) + partitions.AHEAD + timedelta(days=3)
    depot, source = uuid4(), uuid4()
    async with deps.uow() as uow:
        await uow.readings.add(
            [Reading(depot, source, ReadingKind.POWER_SOURCE_SOC_PERCENT, later, 50.0)], []
        )
        await uow.commit()
    engine = create_engine(database_url)
    try:
        created = await partitions.ensure_partitions(engine, later)
        assert created, "the partitions up to `later` + AHEAD"
        assert await partitions.ensure_partitions(engine, later) == []
        async with engine.connect() as conn:
            (place,) = (await conn.execute(WHERE_IS, {"depot": depot})).scalars().all()
            for name in created:
                await conn.execute(text(f"DROP TABLE {name}"))  # the next test's database
            await conn.commit()
    finally:
        await engine.dispose()
    assert place != "reading_partitions.readings_default"
    assert place in created
