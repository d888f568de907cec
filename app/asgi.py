"""The ASGI application: /graphql (HTTP + WebSocket), /healthz, /readyz, /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from app.access_log import AccessLog
from app.auth import BearerAuth
from app.console_documents import console_operation_route
from app.container import Container, build_container
from app.graphql_view import MicrogridGraphQL
from app.limits import BodySizeLimit
from app.metrics_server import MetricsServer, metrics_endpoint
from app.problems import routing_problem
from app.settings import Settings
from console import STATIC_DIR


def _span_names(routes: list[BaseRoute]) -> tuple[list[str], list[str]]:
    """What request spans are named by: the exact paths served, the mounts."""
    exact = [r.path for r in routes if isinstance(r, Route | WebSocketRoute) and "{" not in r.path]
    return exact, [r.path for r in routes if isinstance(r, Mount)]


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
        # Only the database decides: without Redis a process still takes ingest
        # and serves cards (they converge through the silence check), so a
        # Redis failover must not take every process out of the load balancer.
        if checks["database"] != "ok":
            status, code = "not ready", 503
        else:
            status = "ready" if all(v == "ok" for v in checks.values()) else "degraded"
            code = 200
        return JSONResponse({"status": status, "checks": checks}, status_code=code)

    async def console(_request: Request) -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={"Content-Security-Policy": CONSOLE_CSP, "X-Content-Type-Options": "nosniff"},
        )

    async def favicon(_request: Request) -> Response:
        return Response(status_code=204)

    settings = container.settings
    own_port = settings.metrics_enabled and settings.metrics_port is not None
    metrics_server = (
        MetricsServer(container, settings.metrics_host or settings.host, settings.metrics_port or 0)
        if own_port
        else None
    )
    metrics_routes = (
        [Route("/metrics", metrics_endpoint(container))]
        if settings.metrics_enabled and not own_port
        else []
    )
    graphql = BodySizeLimit(
        BearerAuth(MicrogridGraphQL(container), container), container.settings.max_body_bytes
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await container.start()
        if metrics_server is not None:
            await metrics_server.start()
        yield
        if metrics_server is not None:
            await metrics_server.stop()
        await container.close()

    routes: list[BaseRoute] = [
        Route("/", console),
        Route("/favicon.ico", favicon),
        console_operation_route,
        Mount("/console", app=StaticFiles(directory=STATIC_DIR), name="console"),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *metrics_routes,
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Tracing outermost, so that the access log's line carries the request's span.
        middleware=[
            *(
                [container.telemetry.middleware(*_span_names(routes))]
                if container.telemetry
                else []
            ),
            Middleware(AccessLog, enabled=container.settings.access_log),
        ],
        exception_handlers={HTTPException: routing_problem},
    )
    app.state.container = container
    app.state.metrics_server = metrics_server
    return app
