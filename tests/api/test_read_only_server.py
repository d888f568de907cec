"""A write that lands on a PostgreSQL server which cannot write (a standby, or
a primary demoted in a failover, reached through a pooled connection made
before) is answered with the retryable SERVICE_UNAVAILABLE, never a 500, and
the service takes writes again as soon as the server does, without a restart:
no pooled read-only connection is handed out again (issue 18)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from app.asgi import create_app
from app.container import Container, build_container
from app.settings import Settings
from domain.access import Role
from persistence import schema_upgrade
from tests.support import own_postgres
from tests.support.clock import FakeClock
from tests.support.graphql import GraphQLClient

CREATE = """mutation ($name: String!) { createDepot(input: {name: $name,
  topLevelCircuits: [{name: "F"}]}) { ... on CreateDepotSuccess { microgrid { id } } } }"""
RECORD = """mutation ($i: RecordCapabilityStatusInput!) { recordCapabilityStatus(input: $i) {
  ... on CapabilityStatusRecorded { duplicate event { sequence } } } }"""


@pytest.fixture
async def read_only_able() -> AsyncIterator[tuple[str, Container]]:
    """A migrated database of the test's own (it turns it read-only), and the
    service's container on it."""
    async with own_postgres.own_database() as name:
        url = own_postgres.url_of(name)
        await schema_upgrade.upgrade_async(url)
        container = build_container(Settings(database_url=url), clock=FakeClock())
        try:
            yield name, container
        finally:
            await container.close()


async def test_a_write_on_a_read_only_server_is_retryable_and_recovers(
    read_only_able: tuple[str, Container],
) -> None:
    name, container = read_only_able
    token = (await container.tokens.issue(Role.ADMIN, (), container.deps.clock.now())).token
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        client = GraphQLClient(http, token)
        created = await client.execute(CREATE, {"name": "Before"})
        status = {
            "i": {
                "microgridId": created["createDepot"]["microgrid"]["id"],
                "capability": "DER",
                "value": True,
                "observedAt": container.deps.clock.now().isoformat(),
                "providerEventRef": "while-read-only",
            }
        }
        # the server stops taking writes; the pool holds several of its sessions
        await container.engine.dispose()
        await own_postgres.admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        held = [await container.engine.connect() for _ in range(4)]
        for connection in held:
            await connection.scalar(text("SELECT 1"))
            await connection.close()

        for query, variables in ((RECORD, status), (CREATE, {"name": "During"})):
            response = await client.raw(query, variables)
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
            assert error["extensions"]["retryable"] is True

        await own_postgres.admin(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        recorded = (await client.execute(RECORD, status))["recordCapabilityStatus"]
        assert recorded == {"duplicate": False, "event": {"sequence": 1}}
        await client.execute(CREATE, {"name": "After"})


async def test_no_writable_host_to_connect_to_is_retryable_and_recovers(
    read_only_able: tuple[str, Container],
) -> None:
    """With ``target_session_attrs=read-write`` asyncpg refuses to connect while no
    listed host takes writes (in a failover: before the standby is promoted)."""
    name, issuer = read_only_able
    token = (await issuer.tokens.issue(Role.ADMIN, (), issuer.deps.clock.now())).token
    url = f"{own_postgres.url_of(name)}?target_session_attrs=read-write"
    container = build_container(Settings(database_url=url), clock=FakeClock())
    transport = httpx.ASGITransport(app=create_app(container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            client = GraphQLClient(http, token)
            await own_postgres.admin(
                f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'
            )
            response = await client.raw(CREATE, {"name": "During"})
            assert response.status_code == 503
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
            assert error["extensions"]["retryable"] is True

            await own_postgres.admin(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            await client.execute(CREATE, {"name": "After"})
    finally:
        await container.close()
