"""Which unexpected exceptions mean the database is unreachable right now.

The schema answers those with a retryable 503 instead of a logged 500; it
imports no storage library, so the composition root hands it this check."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError

from persistence.lost_connection import connection_lost


def storage_unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    # connection_lost covers OSError (ConnectionError, TimeoutError) and the driver's own.
    return connection_lost(error) or isinstance(error, OperationalError)
