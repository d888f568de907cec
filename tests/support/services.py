"""Finding PostgreSQL and Redis, and making a fresh database per test run.

Without REQUIRE_SERVICES=1 an unreachable service skips its tests with the
reason; with it (CI), the same situation fails the run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from persistence import schema_upgrade
from persistence.tables import metadata

POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def require_services() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def unavailable(what: str, error: BaseException) -> None:
    reason = f"{what} not reachable ({type(error).__name__}: {error})"
    if require_services():
        pytest.fail(f"{reason}; REQUIRE_SERVICES=1 makes this a failure", pytrace=False)
    pytest.skip(f"{reason}, skipped")


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_postgres_database(migrate: bool = True) -> tuple[str, str]:
    """(SQLAlchemy URL, database name) of a new database, migrated unless told not."""
    name = f"mgs_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        unavailable("PostgreSQL at " + POSTGRES_DSN, error)
    base = POSTGRES_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    if migrate:
        schema_upgrade.upgrade(url)
    return url, name


@contextlib.contextmanager
def fresh_postgres(migrate: bool = True) -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL, asyncpg DSN) of a new database of the caller's own,
    dropped afterwards: for tests that run servers of their own on it."""
    url, name = create_postgres_database(migrate)
    try:
        yield url, POSTGRES_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        drop_postgres_database(name)


def drop_postgres_database(name: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_sqlite_database(directory: Path) -> str:
    url = f"sqlite+aiosqlite:///{directory / 'test.db'}"
    schema_upgrade.upgrade(url)
    return url


TABLES_CHILD_FIRST = [t.name for t in reversed(metadata.sorted_tables)]


def empty_postgres(name: str) -> None:
    tables = ", ".join(f'"{t}"' for t in TABLES_CHILD_FIRST)
    dsn = POSTGRES_DSN.rsplit("/", 1)[0] + "/" + name

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"TRUNCATE {tables} CASCADE")
        finally:
            await conn.close()

    asyncio.run(run())


def copy_sqlite(template_url: str, directory: Path) -> str:
    """A fresh database: a copy of the migrated template (events refuse DELETE)."""
    source = sqlite3.connect(template_url.split("///", 1)[1])
    target_path = directory / f"db-{uuid.uuid4().hex[:8]}.db"
    target = sqlite3.connect(target_path)
    with target:
        source.backup(target)
    source.close()
    target.close()
    return f"sqlite+aiosqlite:///{target_path}"
