"""`microgrid retention run [--dry-run]` over a real database, run as a user would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from app.container import build_container
from app.settings import Settings
from domain.access import EVERYWHERE
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewDevice, create_device
from domain.packet_records import PacketRecord
from persistence import partitions
from persistence import tables as t

BIN = Path(sys.executable).parent / "microgrid"
OLD = datetime.now(UTC) - timedelta(days=10)


def retention(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PACKET_RETENTION_DAYS": "2",
        "COLUMNS": "160",
    }
    result = subprocess.run(
        [str(BIN), "retention", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


async def _packets(url: str) -> dict[str, UUID]:
    """A packet received ten days ago and one now; their ids. On PostgreSQL the
    old one's day has its partition."""
    container = build_container(Settings(database_url=url, retention_interval_seconds=0))
    deps = container.deps
    try:
        now = deps.clock.now()
        await partitions.ensure_partitions(container.engine, now, since=OLD)
        created = await create_depot(deps, EVERYWHERE, "C", [NewCircuit("F", 1.0)])
        device = await create_device(deps, EVERYWHERE, NewDevice(created.depot.id, "d"))
        ids = {"old": uuid4(), "new": uuid4()}
        async with deps.uow() as uow:
            for name, at in (("old", OLD), ("new", now)):
                await uow.packets.add(PacketRecord(ids[name], device.id, at, at, {}, ()))
            await uow.commit()
        return ids
    finally:
        await container.close()


async def _stored(url: str) -> set[UUID]:
    container = build_container(Settings(database_url=url, retention_interval_seconds=0))
    try:
        async with container.engine.connect() as conn:
            return set((await conn.execute(select(t.sensor_packets.c.id))).scalars())
    finally:
        await container.close()


def test_retention_run_dry_run_then_run(database_url, store):
    ids = asyncio.run(_packets(database_url))
    old_day = partitions.partition_starts(OLD)[0]
    day = f"packet_partitions.{partitions.partition_name('sensor_packets', old_day)}"

    dry = retention(database_url, "--dry-run")

    assert asyncio.run(_stored(database_url)) == set(ids.values()), "--dry-run changes nothing"
    assert "retention" in dry.stderr, "the progress bar"
    if store == "postgresql":
        assert f"would drop {day} (1 row(s))" in dry.stdout
    else:
        assert "would delete 1 row(s) of sensor_packets older than" in dry.stdout

    done = retention(database_url)

    assert asyncio.run(_stored(database_url)) == {ids["new"]}
    if store == "postgresql":
        assert f"dropped {day}" in done.stdout
    else:
        assert "deleted 1 row(s) of sensor_packets" in done.stdout
    again = retention(database_url)
    assert "dropped 0 partition(s), deleted 0 row(s)" in again.stdout


@pytest.mark.stores("postgresql")
def test_two_processes_at_once_do_the_work_once(database_url):
    ids = asyncio.run(_packets(database_url))
    old_day = partitions.partition_starts(OLD)[0]
    day = f"packet_partitions.{partitions.partition_name('sensor_packets', old_day)}"
    env = {**os.environ, "DATABASE_URL": database_url, "PACKET_RETENTION_DAYS": "2"}
    both = [
        subprocess.Popen(
            [str(BIN), "retention", "run"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "COLUMNS": "160"},
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in both]

    assert asyncio.run(_stored(database_url)) == {ids["new"]}
    for process, (_out, err) in zip(both, outputs, strict=True):
        assert process.returncode == 0 or "another process is running retention" in err
    assert sum(f"dropped {day}" in out for out, _err in outputs) == 1
