"""Bearer-token authentication in front of /graphql over HTTP."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.container import Container
from resolvers.errors import error_body


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def unauthenticated(detail: str) -> JSONResponse:
    return JSONResponse(
        error_body("UNAUTHENTICATED", "Unauthenticated", 401, detail),
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="microgrid"'},
    )


def storage_unavailable() -> JSONResponse:
    detail = "The database is not reachable right now; retry the request."
    return JSONResponse(
        error_body("SERVICE_UNAVAILABLE", "Service unavailable", 503, detail, retryable=True),
        status_code=503,
        headers={"Retry-After": "1"},
    )


class BearerAuth:
    """Puts the token's principal into ``scope["principal"]`` or answers 401.

    The GraphiQL page itself (a browser GET asking for HTML) passes without a
    token when GraphiQL is enabled; every operation it sends needs one.
    WebSockets authenticate in ``connection_init`` instead (see the view)."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        if (
            scope["method"] == "GET"
            and "text/html" in headers.get("accept", "")
            and self.container.settings.graphiql
        ):
            await self.app(scope, receive, send)
            return
        token = bearer_token(headers.get("authorization"))
        if token is None:
            await unauthenticated("Send `Authorization: Bearer <token>`.")(scope, receive, send)
            return
        try:
            principal = await self.container.tokens.authenticate(
                token, self.container.deps.clock.now()
            )
        except (OSError, SQLAlchemyError):
            await storage_unavailable()(scope, receive, send)
            return
        if principal is None:
            await unauthenticated("The token is unknown, revoked or expired.")(scope, receive, send)
            return
        scope["principal"] = principal
        await self.app(scope, receive, send)
