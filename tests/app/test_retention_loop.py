"""The retention job inside ``serve``: it starts and stops with the app's
lifespan, passes run on their own task while requests are answered, and a
failing pass is retried at the next period rather than ending the loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID, uuid4

import httpx
from sqlalchemy import select

from app.asgi import create_app
from app.clock import SystemClock
from app.container import build_container
from app.retention import RetentionLoop
from app.settings import Settings
from domain.access import EVERYWHERE
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewDevice, create_device
from domain.packet_records import PacketRecord
from domain.ports import Dependencies
from persistence import tables as t
from persistence.database import create_engine
from persistence.retention import Windows

PERIOD = 0.05


async def _old_and_new_packet(deps: Dependencies) -> dict[str, UUID]:
    created = await create_depot(deps, EVERYWHERE, "L", [NewCircuit("F", 1.0)])
    device = await create_device(deps, EVERYWHERE, NewDevice(created.depot.id, "d"))
    now = deps.clock.now()
    ids = {"old": uuid4(), "new": uuid4()}
    async with deps.uow() as uow:
        for name, at in (("old", now - timedelta(days=40)), ("new", now)):
            await uow.packets.add(PacketRecord(ids[name], device.id, at, at, {}, ()))
        await uow.commit()
    return ids


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_the_loop_runs_with_the_apps_lifespan_and_stops_cleanly(database_url):
    settings = Settings(database_url=database_url, retention_interval_seconds=PERIOD)
    container = build_container(settings)
    ids = await _old_and_new_packet(container.deps)
    app = create_app(container)
    loop = container.retention
    assert loop is not None and not loop.running

    async with app.router.lifespan_context(app):
        assert loop.running
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as http:
            while loop.passes < 3:
                assert (await http.get("/healthz")).status_code == 200
                await asyncio.sleep(PERIOD / 2)
        async with container.engine.connect() as conn:
            kept = set((await conn.execute(select(t.sensor_packets.c.id))).scalars())
        assert kept == {ids["new"]}

    assert not loop.running


async def test_no_loop_when_the_interval_is_zero(database_url):
    container = build_container(Settings(database_url=database_url, retention_interval_seconds=0))
    try:
        assert container.retention is None
    finally:
        await container.close()


async def test_a_failing_pass_is_retried_and_the_loop_still_stops(tmp_path, caplog):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}")
    loop = RetentionLoop(engine, SystemClock(), Windows(1, 1), PERIOD)
    try:
        await loop.start()
        await _until(lambda: caplog.text.count("retention pass failed") >= 2)
        assert loop.running and loop.passes == 0
        await loop.stop()
        assert not loop.running
    finally:
        await engine.dispose()
