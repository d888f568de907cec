"""The PostgreSQL database and the Redis channel a benchmark has to itself: a
fresh, migrated database dropped afterwards, and a channel nobody else uses."""

from __future__ import annotations

import os
import uuid

import asyncpg

from persistence import schema_upgrade

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


class Database:
    """A fresh, migrated PostgreSQL database for one benchmark, dropped afterwards."""

    def __init__(self, name: str | None = None, *, keep: bool = False) -> None:
        prefix = os.environ.get("BENCH_DB_PREFIX", "mgs_bench")
        self.name = name or f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.keep = keep
        """Leave the database behind afterwards (to look into it)."""
        self.dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + self.name
        self.url = self.dsn.replace("postgresql://", "postgresql+asyncpg://")

    async def __aenter__(self) -> Database:
        conn = await asyncpg.connect(ADMIN_DSN)
        await conn.execute(f'CREATE DATABASE "{self.name}"')
        await conn.close()
        await schema_upgrade.upgrade_async(self.url)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.keep:
            return
        conn = await asyncpg.connect(ADMIN_DSN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await conn.close()


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def broker_env() -> dict[str, str]:
    """A server's environment for Redis on a channel of its own, without access logs."""
    return {
        "REDIS_URL": redis_url(),
        "REDIS_CHANNEL": f"bench:{uuid.uuid4().hex}",
        "ACCESS_LOG": "false",
    }
