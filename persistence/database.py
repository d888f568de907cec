"""Engine creation with the per-backend settings both stores need."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from persistence.cancelled_checkouts import quiet_cancelled_checkouts
from persistence.stale_connections import drop_stale_connections

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs.

    On SQLite, transactions that will write begin with ``BEGIN IMMEDIATE`` (set the
    execution option ``sqlite_begin="IMMEDIATE"``), so two writers queue on the
    database lock instead of failing half-way with "database is locked".

    PostgreSQL connections are not pinged on checkout unless ``pool_pre_ping``
    is passed (a round trip per request): after a server restart or a failover
    the requests in flight fail with a retryable 503 and the pool drops every
    connection of that generation (:mod:`persistence.stale_connections`).
    The URL may name several hosts, SQLAlchemy's asyncpg multi-host form
    ``postgresql+asyncpg://user@/db?host=h1:5432&host=h2:5432&target_session_attrs=read-write``
    (every host with its port); asyncpg tries them in order and keeps the first
    that accepts writes.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
    else:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        engine = create_async_engine(url, **kwargs)
        drop_stale_connections(engine)
    quiet_cancelled_checkouts(engine.sync_engine.pool)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"
