"""Dropping the pooled connections of a server that went away (a restart, a
failover) or that can no longer write (a standby, a demoted primary).

Pinging every connection on checkout (``pool_pre_ping``) costs a round trip per
request (bench/README.md, "Pre-ping"). Instead, the first statement that fails
with a lost or read-only connection condemns every connection the pool holds
at that moment: each is closed and replaced at its next checkout, so only the
requests already in flight fail (with a retryable SERVICE_UNAVAILABLE), and the
next ones connect afresh, to whichever host is the primary then.

SQLAlchemy already does this for its own statements when its dialect
recognises a disconnect; a ``handle_error`` listener widens that to every
condition of :func:`persistence.lost_connection.connection_lost` (a read-only
server's refusal included). Statements sent straight to asyncpg
(:mod:`persistence.asyncpg_driver`) bypass SQLAlchemy's error handling, so
they call :func:`condemn_pool`, which works on a generation number: each new
connection is stamped with the pool's current generation (``connect`` event),
condemning bumps it, and a connection checked out with an older stamp is
refused with ``DisconnectionError`` (``checkout`` event), which makes the pool
replace it. All of it is SQLAlchemy's public event API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from persistence.lost_connection import connection_lost

_STAMP = "mgs.generation"
"""The key, in a pooled connection's ``info``, of its (generation, stamp)."""


class Generation:
    """The pool's generation: connections made before the last condemnation are stale."""

    def __init__(self) -> None:
        self.number = 0

    def condemn(self) -> None:
        self.number += 1


def drop_stale_connections(engine: AsyncEngine) -> None:
    """Installs the listeners on ``engine`` (once, at creation)."""
    generation = Generation()
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _stamp(_dbapi_connection: Any, record: Any) -> None:
        record.info[_STAMP] = (generation, generation.number)

    @event.listens_for(sync_engine, "checkout")
    def _refuse_stale(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        stamp = record.info.get(_STAMP)
        if stamp is not None and stamp[1] < generation.number:
            raise DisconnectionError("connected before the server went away")

    @event.listens_for(sync_engine, "handle_error")
    def _lost_means_disconnect(context: ExceptionContext) -> None:
        if not context.is_disconnect and connection_lost(context.original_exception):
            context.is_disconnect = True  # SQLAlchemy then invalidates the whole pool


def condemn_pool(pooled: PoolProxiedConnection) -> None:
    """Every connection of ``pooled``'s pool made until now is replaced at its
    next checkout (``pooled`` itself: invalidate it)."""
    stamp = pooled.info.get(_STAMP)
    if stamp is not None:
        stamp[0].condemn()
