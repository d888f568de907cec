"""A broken database connection is a retryable 503 however the driver's error
arrives (the check in app/storage_errors.py, which the app hands the schema's
error shaping in schema/errors.py); anything else unexpected stays a logged 500."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import InterfaceError

from app.storage_errors import storage_unavailable
from domain.live import FellBehind
from graphql import GraphQLError
from schema.errors import describe


def _raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except Exception as error:
            raise InterfaceError("SELECT 1", {}, error) from error
    except Exception as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "cause",
    [
        asyncpg.exceptions.InternalClientError("cannot switch to state 12"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        # a standby, or a primary demoted in a failover: a fresh connection finds the primary
        asyncpg.exceptions.ReadOnlySQLTransactionError(
            "cannot execute INSERT in a read-only transaction"
        ),
        # connecting with target_session_attrs=read-write while no host is the primary yet
        asyncpg.exceptions.TargetServerAttributeNotMatched("None of the hosts match"),
    ],
)
def test_a_lost_connection_wrapped_by_sqlalchemy_is_retryable(cause):
    error = GraphQLError("failed", original_error=_raised_from(cause))
    _message, extensions = describe(error, storage_unavailable)
    assert extensions["code"] == "SERVICE_UNAVAILABLE"
    assert extensions["status"] == 503 and extensions["retryable"] is True


def test_an_unrelated_error_is_an_internal_error():
    wrapped = _raised_from(ValueError("a bug"))
    _message, extensions = describe(
        GraphQLError("failed", original_error=wrapped), storage_unavailable
    )
    assert extensions["code"] == "INTERNAL_SERVER_ERROR" and extensions["status"] == 500


def test_the_schema_knows_no_storage_until_the_app_hands_it_the_check():
    error = GraphQLError("failed", original_error=_raised_from(ConnectionResetError()))
    assert describe(error)[1]["code"] == "INTERNAL_SERVER_ERROR"
    assert describe(error, storage_unavailable)[1]["code"] == "SERVICE_UNAVAILABLE"


def test_a_subscriber_that_fell_behind_is_told_it_was_too_slow():
    message, extensions = describe(GraphQLError("failed", original_error=FellBehind()))
    assert extensions["code"] == "SUBSCRIBER_TOO_SLOW" and extensions["status"] == 429
    assert "fell too far behind" in message
