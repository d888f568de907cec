"""Errors that are not domain outcomes; the error extension renders them with
``extensions.code`` and RFC 9457-style type/title/status/detail."""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://microgrid.example/problems/"


def problem(code: str, title: str, status: int, detail: str, **extra: Any) -> dict[str, Any]:
    """``extensions`` of a GraphQL error: the code plus RFC 9457 type/title/status/detail."""
    return {
        "code": code,
        "type": PROBLEM_BASE + code.lower().replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def error_body(code: str, title: str, status: int, detail: str, **extra: Any) -> dict[str, Any]:
    """A GraphQL response carrying one such error (for answers given before GraphQL runs)."""
    return {
        "errors": [{"message": detail, "extensions": problem(code, title, status, detail, **extra)}]
    }


class ServiceError(Exception):
    code = "INTERNAL_SERVER_ERROR"
    title = "Internal server error"
    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SubscriberTooSlow(ServiceError):
    """The subscription's bounded queue overflowed; it is dropped."""

    code = "SUBSCRIBER_TOO_SLOW"
    title = "Subscriber too slow"
    status = 429

    def __init__(self) -> None:
        super().__init__("This subscription fell too far behind and was dropped; subscribe again.")


class NotFoundError(ServiceError):
    """For fields that cannot return a NotFound problem (subscriptions)."""

    code = "NOT_FOUND"
    title = "Not found"
    status = 404
