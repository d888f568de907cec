"""/healthz answers while the process lives; /readyz checks its dependencies."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.asgi import create_app
from app.container import build_container
from app.settings import Settings
from persistence import schema_upgrade
from tests.support import services


async def test_healthz_and_readyz_with_a_working_database(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}


@pytest.mark.stores("sqlite")
async def test_readyz_reports_an_unreachable_redis_and_database(tmp_path, store):
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db",
        redis_url="redis://127.0.0.1:1/0",
    )
    container = build_container(settings)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/readyz")
    await container.close()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"].startswith("unavailable") and checks["redis"].startswith(
        "unavailable"
    )


async def test_readyz_checks_redis_when_configured(settings, clock):
    import redis.asyncio

    try:
        probe = redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2)
        await probe.ping()
        await probe.aclose()
    except Exception as error:
        services.unavailable("Redis at 127.0.0.1:6379", error)
    container = build_container(
        settings.model_copy(update={"redis_url": "redis://127.0.0.1:6379/0"}), clock=clock
    )
    await container.start()
    await asyncio.wait_for(container.broker.connected.wait(), 10)  # type: ignore[union-attr]
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/readyz")
    await container.close()
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_graphiql_is_served_only_when_configured(settings, clock, http):
    assert (await http.get("/graphql", headers={"Accept": "text/html"})).status_code == 401
    container = build_container(settings.model_copy(update={"graphiql": True}), clock=clock)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
    await container.close()
    assert page.status_code == 200 and "graphiql" in page.text.lower()


@pytest.mark.stores("sqlite")
async def test_readyz_is_degraded_not_down_without_redis(tmp_path, store):
    """A Redis failover must not take every process out of the load balancer:
    without Redis a process still takes ingest and serves converging cards."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", redis_url="redis://127.0.0.1:1/0"
    )
    await schema_upgrade.upgrade_async(settings.database_url)
    container = build_container(settings)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/readyz")
    await container.close()
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["redis"].startswith("unavailable")
