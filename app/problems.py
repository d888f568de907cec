"""Transport-level refusals (before GraphQL runs) as RFC 9457-style JSON."""

from __future__ import annotations

from collections.abc import Mapping

from cross_web import HTTPException
from starlette.exceptions import HTTPException as RoutingException
from starlette.requests import Request
from starlette.responses import JSONResponse

from resolvers.errors import error_body

_DEFAULTS = {
    400: ("BAD_REQUEST", "Bad request"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    413: ("PAYLOAD_TOO_LARGE", "Payload too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
}


class TransportProblem(HTTPException):
    """An HTTP-level refusal with its own code; Strawberry's view raises the
    plain kind, which :func:`from_http_exception` codes by status."""

    def __init__(
        self, status: int, code: str, title: str, detail: str, headers: Mapping[str, str] = {}
    ) -> None:
        super().__init__(status, detail)
        self.code, self.title, self.headers = code, title, dict(headers)


def problem_response(
    status: int,
    detail: str,
    code: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    default_code, default_title = _DEFAULTS.get(status, _DEFAULTS[400])
    code, title = code or default_code, title or default_title
    return JSONResponse(
        error_body(code, title, status, detail), status_code=status, headers=headers
    )


def from_http_exception(error: HTTPException) -> JSONResponse:
    if isinstance(error, TransportProblem):
        return problem_response(
            error.status_code, error.reason, error.code, error.title, error.headers
        )
    return problem_response(error.status_code, _sentence(error.reason))


async def routing_problem(_request: Request, error: Exception) -> JSONResponse:
    """Starlette's own refusals: an unknown path, a method the route does not take."""
    assert isinstance(error, RoutingException)
    return problem_response(error.status_code, _sentence(error.detail), headers=error.headers)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."
