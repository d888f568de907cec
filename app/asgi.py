"""The ASGI application: /graphql (HTTP + WebSocket), /healthz, /readyz, /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from app.auth import BearerAuth
from app.console_documents import console_operation_route
from app.container import Container, build_container
from app.graphql_view import MicrogridGraphQL
from app.limits import BodySizeLimit
from app.metrics import metrics_endpoint
from app.problems import routing_problem
from app.settings import Settings
from console import STATIC_DIR

CONSOLE_CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'"
)


def create_app(container: Container | None = None) -> Starlette:
    container = container or build_container(Settings())

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with container.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
        if container.settings.redis_url:
            checks["redis"] = await container.broker.ping()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def console(_request: Request) -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={"Content-Security-Policy": CONSOLE_CSP, "X-Content-Type-Options": "nosniff"},
        )

    async def favicon(_request: Request) -> Response:
        return Response(status_code=204)

    metrics = metrics_endpoint(container.statements, container.card_followers, container.hub)
    graphql = BodySizeLimit(
        BearerAuth(MicrogridGraphQL(container), container), container.settings.max_body_bytes
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await container.start()
        yield
        await container.close()

    app = Starlette(
        middleware=[container.telemetry.middleware()] if container.telemetry else None,
        routes=[
            Route("/", console),
            Route("/favicon.ico", favicon),
            console_operation_route,
            Mount("/console", app=StaticFiles(directory=STATIC_DIR), name="console"),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: routing_problem},
    )
    app.state.container = container
    return app
