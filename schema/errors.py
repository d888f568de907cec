"""Every GraphQL error leaves with ``extensions.code`` and RFC 9457-style
``type``/``title``/``status``/``detail``; unexpected exceptions are masked.

Logging (DESIGN §5): a request's client errors and denials make one short
line, with the client's text truncated and never a traceback
(:func:`log_client_errors`, the schema's ``process_errors``); an unexpected
exception is logged once, with its traceback, where it is masked.

Whether an exception means the storage is unreachable (a retryable 503) is the
storage's knowledge: the composition root passes that check in
(:data:`StorageCheck`), so the schema imports no storage library."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError

from domain.live import FellBehind
from graphql import GraphQLError, GraphQLSyntaxError
from resolvers.errors import ServiceError, SubscriberTooSlow, problem

log = logging.getLogger("microgrid.errors")

StorageCheck = Callable[[BaseException], bool]
"""Whether an unexpected exception says the storage is unreachable right now."""


def never_storage(_error: BaseException) -> bool:
    """The check of a schema built without storage (e.g. to export the SDL)."""
    return False


LOGGED_TEXT_CHARS = 200
"""Longest piece of client-supplied text (a message quoting the query or a
variable) that goes into a log line."""


def clip(text: str, limit: int = LOGGED_TEXT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (saying how long it was)."""
    head = text[:limit].replace("\r", " ").replace("\n", " ")
    return head if len(text) <= limit else f"{head}... ({len(text)} chars)"


def log_client_errors(errors: list[GraphQLError]) -> None:
    """One short line for a request's expected errors (syntax, validation,
    denials, typed service errors); unexpected ones are left to :func:`describe`,
    which logs them with their traceback as it masks them."""
    expected = [e for e in errors if not _unexpected(e)]
    if not expected:
        return
    message, extensions = describe(expected[0])
    more = f" (+{len(expected) - 1} more)" if len(expected) > 1 else ""
    log.info(
        "client error %s: %s%s",
        extensions["code"],
        clip(message),
        more,
        extra={"attributes": {"error.type": extensions["code"]}},
    )


def _unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    if isinstance(original, GraphQLError):
        original = original.original_error
    return original is not None and not isinstance(original, _CLIENT_ERRORS)


class BadOperation(ServiceError):
    """A subscribe message over WebSocket whose operation cannot run: no query,
    or an operationName naming none (HTTP refuses both before GraphQL runs)."""

    code = "BAD_REQUEST"
    title = "Bad request"
    status = 400


_BAD_OPERATIONS: dict[type[Exception], str] = {
    CannotGetOperationTypeError: "operationName does not name an operation of the document.",
    MissingQueryError: "The message carries no GraphQL query.",
}
_CLIENT_ERRORS: tuple[type[Exception], ...] = (ServiceError, FellBehind, *_BAD_OPERATIONS)


def describe(
    error: GraphQLError, storage_unavailable: StorageCheck = never_storage
) -> tuple[str, dict[str, Any]]:
    """The message and extensions the client sees for ``error``."""
    if isinstance(error, GraphQLSyntaxError):
        return error.message, problem("GRAPHQL_PARSE_FAILED", "Invalid syntax", 400, error.message)
    original = error.original_error
    if isinstance(original, GraphQLError):
        error, original = original, original.original_error
    bad_operation = _BAD_OPERATIONS.get(type(original))  # type: ignore[arg-type]
    if bad_operation is not None:
        original = BadOperation(bad_operation)
    if isinstance(original, FellBehind):
        original = SubscriberTooSlow()
    if isinstance(original, ServiceError):
        return original.detail, problem(
            original.code, original.title, original.status, original.detail
        )
    if original is None:
        existing = dict(error.extensions or {})
        if "code" in existing:
            code = str(existing["code"])
            return error.message, {
                **problem(
                    code,
                    str(existing.get("title", code.title())),
                    int(existing.get("status", 400)),
                    error.message,
                ),
                **existing,
            }
        return error.message, problem(
            "GRAPHQL_VALIDATION_FAILED", "Invalid request", 400, error.message
        )
    if storage_unavailable(original):
        log.warning("storage unavailable: %s", clip(repr(original)), extra={"about_database": True})
        detail = "The database is not reachable right now; retry the request."
        return detail, problem(
            "SERVICE_UNAVAILABLE", "Service unavailable", 503, detail, retryable=True
        )
    log.error("unexpected error in %s", error.path, exc_info=original)
    detail = "An unexpected error occurred. It has been logged."
    return detail, problem("INTERNAL_SERVER_ERROR", "Internal server error", 500, detail)


class ProblemErrors(SchemaExtension):
    """Masks every error of a result as :func:`describe` says (what Strawberry's
    ``MaskErrors`` does, through the extension hooks alone: its per-result
    check against a runtime-checkable Protocol was slow on a card fan-out)."""

    def __init__(self, storage_unavailable: StorageCheck = never_storage) -> None:
        self._streamed = False
        self.storage_unavailable = storage_unavailable

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if not self._streamed:  # a stream's results were masked one by one
            self._mask(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        self._mask(result)
        yield

    def _mask(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [self.anonymise_error(e) for e in errors]  # type: ignore[attr-defined]

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        message, extensions = describe(error, self.storage_unavailable)
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )
