"""A database of a test's own on the shared PostgreSQL, for tests that change
what the server does to its sessions (kill them, make them read-only): nothing
another test uses is touched. Skipped (failed under REQUIRE_SERVICES=1) when
PostgreSQL is not reachable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tests.support import services

PREFIX = "mgs_hh"


def url_of(database: str) -> str:
    """The service's DATABASE_URL for ``database``."""
    base = services.POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


async def admin(statement: str, *args: object) -> None:
    """One statement as the server's administrator."""
    conn = await asyncpg.connect(services.POSTGRES_DSN, timeout=5)
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


@asynccontextmanager
async def own_database() -> AsyncIterator[str]:
    """A fresh, empty database's name; dropped afterwards."""
    name = f"{PREFIX}_{uuid.uuid4().hex[:12]}"
    try:
        await admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        services.unavailable("PostgreSQL at " + services.POSTGRES_DSN, error)
    try:
        yield name
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
