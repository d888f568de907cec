"""Whether an error means the database connection broke (or the server is
restarting): the one storage condition a client may retry, as
SERVICE_UNAVAILABLE. The composition root hands :func:`connection_lost` to
whatever maps errors for clients."""

from __future__ import annotations

import asyncpg

LOST_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # the connection broke
    asyncpg.exceptions.OperatorInterventionError,  # the server is shutting down or restarting
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # the protocol is in an unknown state
    OSError,
)

_CAUSES_FOLLOWED = 8


def connection_lost(error: BaseException) -> bool:
    """Whether ``error``, or an error it was raised from (SQLAlchemy wraps the
    driver's), says the database connection broke or the server is restarting."""
    cause: BaseException | None = error
    for _ in range(_CAUSES_FOLLOWED):
        if cause is None:
            return False
        if isinstance(cause, LOST_CONNECTION_ERRORS):
            return True
        cause = cause.__cause__
    return False
