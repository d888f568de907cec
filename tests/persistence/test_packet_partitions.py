"""Migration 0011 with packets stored: on PostgreSQL ``sensor_packets`` becomes
partitioned by receive day and every row moves with it (into its day's
partition, or the DEFAULT one when older than the backfill); down and up again
keep every row on both stores."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from persistence import schema_upgrade
from persistence.database import create_engine

pytestmark = pytest.mark.database_only("Alembic migrations of a database")

BEFORE = str(
    ScriptDirectory.from_config(schema_upgrade.alembic_config("sqlite://"))
    .get_revision("0011")
    .down_revision
)
NOW = datetime.now(UTC)
RECEIVED = {
    "long ago": datetime(2001, 1, 1, 12, tzinfo=UTC),
    "ten days ago": NOW - timedelta(days=10),
    "today": NOW,
}


@pytest.fixture
def url_before_0011(tmp_path, store):
    if store == "postgresql":
        from tests.support import services

        url, name = services.create_postgres_database()
        schema_upgrade.downgrade(url, BEFORE)
        yield url
        services.drop_postgres_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
        schema_upgrade.upgrade(url, BEFORE)
        yield url


async def _insert(url: str) -> dict[str, uuid.UUID]:
    engine = create_engine(url)
    depot, device = uuid.uuid4(), uuid.uuid4()
    ids = {name: uuid.uuid4() for name in RECEIVED}
    sqlite = engine.dialect.name == "sqlite"

    def at(moment: datetime) -> Any:
        return moment.replace(tzinfo=None) if sqlite else moment

    def key(value: uuid.UUID) -> Any:
        return value.hex if sqlite else value

    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO depots (id, name, created_at) VALUES (:id, 'D', :at)"),
                {"id": key(depot), "at": at(NOW)},
            )
            await conn.execute(
                text(
                    "INSERT INTO devices (id, depot_id, name, created_at) "
                    "VALUES (:id, :depot, 'd', :at)"
                ),
                {"id": key(device), "depot": key(depot), "at": at(NOW)},
            )
            for name, received in RECEIVED.items():
                await conn.execute(
                    text(
                        "INSERT INTO sensor_packets (id, device_id, observed_at, received_at, "
                        "packet, outcomes) VALUES (:id, :device, :at, :at, :packet, '[]')"
                    ),
                    {
                        "id": key(ids[name]),
                        "device": key(device),
                        "at": at(received),
                        "packet": json.dumps({"name": name}),
                    },
                )
    finally:
        await engine.dispose()
    return ids


async def _rows(url: str) -> dict[str, tuple[str, str]]:
    """Each packet's name -> (where it is stored, its receive time)."""
    engine = create_engine(url)
    where = (
        "tableoid::regclass::text" if engine.dialect.name == "postgresql" else "'sensor_packets'"
    )
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text(f"SELECT CAST(packet AS TEXT), {where}, received_at FROM sensor_packets")
            )
            return {json.loads(p)["name"]: (place, str(at)) for p, place, at in found.all()}
    finally:
        await engine.dispose()


async def _partitioned(url: str) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            if engine.dialect.name != "postgresql":
                return False
            kind = await conn.scalar(
                text("SELECT relkind::text FROM pg_class WHERE oid = 'sensor_packets'::regclass")
            )
            return kind == "p"
    finally:
        await engine.dispose()


def test_0011_up_and_down_keeps_every_packet(url_before_0011, store):
    asyncio.run(_insert(url_before_0011))
    before = asyncio.run(_rows(url_before_0011))
    assert set(before) == set(RECEIVED)

    schema_upgrade.upgrade(url_before_0011)
    after = asyncio.run(_rows(url_before_0011))
    assert {n: at for n, (_, at) in after.items()} == {n: at for n, (_, at) in before.items()}
    if store == "postgresql":
        assert asyncio.run(_partitioned(url_before_0011))
        day = RECEIVED["ten days ago"]
        assert after["ten days ago"][0] == f"packet_partitions.sensor_packets_p{day:%Y%m%d}"
        assert after["today"][0] == f"packet_partitions.sensor_packets_p{NOW:%Y%m%d}"
        assert after["long ago"][0] == "packet_partitions.sensor_packets_default"

    schema_upgrade.downgrade(url_before_0011, BEFORE)
    down = asyncio.run(_rows(url_before_0011))
    assert {n: at for n, (_, at) in down.items()} == {n: at for n, (_, at) in before.items()}
    assert not asyncio.run(_partitioned(url_before_0011))

    schema_upgrade.upgrade(url_before_0011)
    assert set(asyncio.run(_rows(url_before_0011))) == set(RECEIVED)
