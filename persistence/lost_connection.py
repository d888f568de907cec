"""Whether an error means the database connection broke, the server is
restarting, or the connection reached a server that cannot write (a standby, or
a primary demoted in a failover): the one storage condition a client may retry,
as SERVICE_UNAVAILABLE, because a fresh connection reaches whichever host is the
primary by then. The composition root hands :func:`connection_lost` to whatever
maps errors for clients; :mod:`persistence.stale_connections` drops the pool's
connections on it."""

from __future__ import annotations

import asyncpg

LOST_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # the connection broke
    asyncpg.exceptions.OperatorInterventionError,  # the server is shutting down or restarting
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # the protocol is in an unknown state
    OSError,
    # "cannot execute INSERT in a read-only transaction": a standby, or a
    # primary demoted since this connection was made
    asyncpg.exceptions.ReadOnlySQLTransactionError,
)

_CAUSES_FOLLOWED = 8


def connection_lost(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from (SQLAlchemy wraps the
    driver's), says the database connection broke, the server is restarting or
    cannot write."""
    cause: BaseException | None = error
    for _ in range(_CAUSES_FOLLOWED):
        if cause is None:
            return False
        if isinstance(cause, LOST_CONNECTION_ERRORS):
            return True
        cause = cause.__cause__
    return False
