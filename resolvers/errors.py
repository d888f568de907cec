"""Errors that are not domain outcomes; the error extension renders them with
``extensions.code`` and RFC 9457-style type/title/status/detail."""

from __future__ import annotations


class ServiceError(Exception):
    code = "INTERNAL_SERVER_ERROR"
    title = "Internal server error"
    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Forbidden(ServiceError):
    code = "FORBIDDEN"
    title = "Forbidden"
    status = 403


class Unauthenticated(ServiceError):
    code = "UNAUTHENTICATED"
    title = "Unauthenticated"
    status = 401


class NotFoundError(ServiceError):
    """For fields that cannot return a NotFound problem (subscriptions)."""

    code = "NOT_FOUND"
    title = "Not found"
    status = 404
