"""The `microgrid` command line. Every command honours DATABASE_URL."""

from __future__ import annotations

import asyncio
import gc
import sys
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.container import build_container
from app.redis_connections import InvalidRedisUrl
from app.settings import Settings
from domain.access import EVERYWHERE, Role
from persistence import schema_upgrade as migrations
from persistence.partitions import ensure_partitions_at
from simulator.cli import sim_cli

cli = typer.Typer(help="Depot Microgrid Service.", no_args_is_help=True, add_completion=False)
tokens_cli = typer.Typer(help="API tokens.", no_args_is_help=True)
cli.add_typer(tokens_cli, name="tokens")
projections_cli = typer.Typer(
    help="Read models derived from the event store.", no_args_is_help=True
)
cli.add_typer(projections_cli, name="projections")
cli.add_typer(sim_cli, name="sim")
flags_cli = typer.Typer(
    help="Feature flags: built-in defaults, global values and per-depot overrides.",
    no_args_is_help=True,
)
cli.add_typer(flags_cli, name="flags")
retention_cli = typer.Typer(
    help="Retention of raw packets (PACKET_RETENTION_DAYS) and chart readings "
    "(READING_RETENTION_DAYS).",
    no_args_is_help=True,
)
cli.add_typer(retention_cli, name="retention")
err = Console(stderr=True)
out = Console()


@cli.command()
def migrate() -> None:
    """Apply the database migrations (creates a SQLite file on first run)."""
    settings = Settings()
    configure_logging(settings)
    migrations.upgrade(settings.database_url)
    err.print(f"[green]database at {migrations.head_revision()}[/green]")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT).")] = None,
) -> None:
    """Apply migrations, then serve /graphql, the console at /, /healthz, /readyz and /metrics."""
    from pydantic import ValidationError

    from app.asgi import create_app
    from app.startup_errors import DATABASE_ERRORS, database_problem, settings_problem
    from app.uvicorn_shutdown import run_draining

    try:
        settings = Settings()
    except ValidationError as error:
        _refuse(settings_problem(error))
    try:  # before anything is logged: a refusal is the only line
        container = build_container(settings)
    except InvalidRedisUrl as error:
        _refuse(str(error))
    except DATABASE_ERRORS as error:
        _refuse(database_problem(error))
    configure_logging(settings)
    try:
        migrations.upgrade(settings.database_url)
        ensure_partitions_at(settings.database_url)
    except DATABASE_ERRORS as error:
        _refuse(database_problem(error))
    app = create_app(container)
    # Everything loaded so far lives as long as the process: keep it out of the
    # collector. And collect less often: with 1,000 open card subscriptions a
    # full collection paused the event loop ~150 ms, which was the fan-out's
    # p99 (bench/README.md); young garbage is mostly freed by reference count.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    run_draining(
        app,
        settings,
        host=host or settings.host,
        port=port or settings.port,
        # Logging is configure_logging's: uvicorn's records go through its
        # handler, and the access log is the service's own (app/access_log.py).
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
        ws="websockets-sansio",
        # Cards are small JSON; per-message deflate would keep ~300 KiB of zlib
        # state per browser connection and compress every message per subscriber.
        ws_per_message_deflate=False,
        proxy_headers=False,
        **transport_limits(settings),
    )


def configure_logging(settings: Settings) -> None:
    """LOG_FORMAT and LOG_LEVEL for this process's log lines (stderr)."""
    from app import log_format
    from app.storage_errors import storage_unavailable

    log_format.configure_logging(
        settings.log_format,
        settings.log_level,
        db_system="postgresql" if settings.database_url.startswith("postgresql") else "sqlite",
        is_storage_error=storage_unavailable,
    )


def _refuse(problem: str) -> NoReturn:
    """Ends ``serve`` before it starts: one line naming the setting at fault, exit 2."""
    err.print(problem, style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def transport_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn settings that bound what a slow, silent or greedy client holds."""
    from app.slow_clients import Deadlines

    deadlines = Deadlines(
        settings.header_timeout_seconds, settings.body_timeout_seconds, settings.max_header_bytes
    )
    return {
        "http": deadlines.protocol(),
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "limit_concurrency": _under_the_file_limit(settings.max_connections),
        "ws_max_size": settings.max_body_bytes,
    }


def _under_the_file_limit(connections: int, reserve: int = 64) -> int:
    """Past the cap new connections get a 503 at once; past the process's
    file limit they could not even be accepted, so the cap stays below it
    (with room for the database pool, Redis and logs)."""
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return (
        connections if soft == resource.RLIM_INFINITY else max(1, min(connections, soft - reserve))
    )


@cli.command()
def backfill(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only; write nothing.")] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
) -> None:
    """Provision every depot that has top-level circuits and no microgrid."""
    from domain.backfill import backfill as run_backfill

    async def main() -> None:
        container = build_container(Settings())
        try:
            with Progress(
                TextColumn("backfill"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            ) as bar:
                task = bar.add_task("depots", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report = await run_backfill(
                    container.deps,
                    EVERYWHERE,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    progress=advance,
                    keep_ids=False,
                )
        finally:
            await container.close()
        verb = "would create" if dry_run else "created"
        out.print(
            f"{verb}: {report.created}  already provisioned: "
            f"{report.already_provisioned}  skipped (no top-level circuits): "
            f"{report.skipped_no_top_level_circuits}"
        )

    asyncio.run(main())


@retention_cli.command("run")
def retention_run(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would be dropped and deleted; change nothing."),
    ] = False,
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows per delete transaction.")
    ] = 5000,
) -> None:
    """One retention pass now: drop the partitions wholly older than the window
    and delete the old rows left elsewhere (the job `serve` runs every
    RETENTION_INTERVAL_SECONDS)."""
    from app.retention import windows
    from persistence.retention import RetentionReport, Step, run_retention

    settings = Settings()
    configure_logging(settings)
    migrations.upgrade(settings.database_url)

    async def main() -> RetentionReport:
        container = build_container(settings)
        try:
            with Progress(
                TextColumn("retention"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=err,
                transient=False,
            ) as bar:
                task = bar.add_task("", total=None)

                def advance(done: int, total: int, step: Step) -> None:
                    bar.update(task, completed=done, total=total, description=step.target)

                return await run_retention(
                    container.engine,
                    container.deps.clock.now(),
                    windows(settings),
                    dry_run=dry_run,
                    batch_size=batch_size,
                    progress=advance,
                )
        finally:
            await container.close()

    report = asyncio.run(main())
    if not report.ran:
        err.print("[yellow]another process is running retention; nothing done[/yellow]")
        raise typer.Exit(1)
    drop, delete = ("would drop", "would delete") if dry_run else ("dropped", "deleted")
    for step in report.steps:
        rows = "" if step.rows is None else f" ({step.rows} row(s))"
        if step.action == "drop":
            out.print(f"{drop} {step.target}{rows}")
        elif step.rows:
            before = f"{step.before:%Y-%m-%d %H:%M} UTC"
            out.print(f"{delete} {step.rows} row(s) of {step.target} older than {before}")
    for name in report.deferred:
        out.print(f"deferred {name}: its table was busy (the next pass retries)")
    out.print(f"{drop} {len(report.dropped)} partition(s), {delete} {report.deleted} row(s)")
    out.print(
        f"packets are kept {settings.packet_retention_days} d, "
        f"readings {settings.reading_retention_days} d"
    )


def _duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise typer.BadParameter("use a positive number with s, m, h or d, e.g. 12h or 30d")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


@tokens_cli.command("create")
def tokens_create(
    role: Annotated[Role, typer.Option(help="admin, operator or integration.")],
    depot: Annotated[
        list[str] | None,
        typer.Option("--depot", help="Limit the token to this depot id (repeatable)."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="A note on who holds the token.")] = None,
    expires_in: Annotated[
        str | None, typer.Option(help="Expire after this long, e.g. 12h or 30d (default: never).")
    ] = None,
) -> None:
    """Create a token; it is printed once, alone on the last line."""
    lifetime = _duration(expires_in) if expires_in else None
    try:
        depot_ids = tuple(UUID(d) for d in depot or [])
    except ValueError as exc:
        err.print(f"[red]--depot must be a depot id (UUID): {exc}[/red]")
        raise typer.Exit(2) from exc

    async def main() -> str:
        container = build_container(Settings())
        try:
            now = container.deps.clock.now()
            issued = await container.tokens.issue(
                role, depot_ids, now, label, now + lifetime if lifetime else None
            )
        finally:
            await container.close()
        return issued.token

    migrations.upgrade(Settings().database_url)
    token = asyncio.run(main())
    scope = ", ".join(str(d) for d in depot_ids) or "all depots"
    err.print(f"{role.value} token for {scope}:")
    print(token)


@projections_cli.command("rebuild")
def projections_rebuild() -> None:
    """Rebuild the latest-status projection from the event store alone."""
    from domain.projections import RebuildReport, rebuild_latest_statuses

    async def main() -> RebuildReport:
        container = build_container(Settings())
        try:
            return await rebuild_latest_statuses(container.deps)
        finally:
            await container.close()

    migrations.upgrade(Settings().database_url)
    report = asyncio.run(main())
    out.print(f"rebuilt the latest-status projection: {report.rows} row(s)")
    if report.skipped:
        out.print(
            f"skipped {len(report.skipped)} event(s) outside the plausible-input rules: "
            + ", ".join(str(i) for i in report.skipped)
        )


@tokens_cli.command("list")
def tokens_list() -> None:
    """Every token: id, role, scope, label, created, expires, state (never the secret)."""
    from rich.table import Table

    from persistence.tokens import list_tokens

    async def main() -> None:
        container = build_container(Settings())
        try:
            tokens = await list_tokens(container.engine)
            now = container.deps.clock.now()
        finally:
            await container.close()
        table = Table()
        table.add_column("id", no_wrap=True, min_width=36)  # `tokens revoke` takes it whole
        for heading in ("role", "depots", "label", "created", "expires", "state"):
            table.add_column(heading)
        for info in tokens:
            table.add_row(
                str(info.id),
                info.role.value,
                ", ".join(str(d) for d in info.depot_ids) or "all",
                info.label or "",
                f"{info.created_at:%Y-%m-%d %H:%M}",
                f"{info.expires_at:%Y-%m-%d %H:%M}" if info.expires_at else "never",
                info.state(now),
            )
        out.print(table)

    migrations.upgrade(Settings().database_url)
    asyncio.run(main())


@tokens_cli.command("revoke")
def tokens_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `tokens list`).")],
) -> None:
    """Revoke a token: refused on its next request; open WebSockets close within 5 s."""
    from persistence.tokens import revoke_token

    try:
        parsed = UUID(token_id)
    except ValueError as exc:
        err.print("[red]give the token's id (a UUID) as `tokens list` shows it[/red]")
        raise typer.Exit(2) from exc

    async def main() -> bool:
        container = build_container(Settings())
        try:
            return await revoke_token(container.engine, parsed, container.deps.clock.now())
        finally:
            await container.close()

    migrations.upgrade(Settings().database_url)
    if asyncio.run(main()):
        out.print(f"revoked {parsed}")
    else:
        err.print(f"[red]no active token {parsed}[/red]")
        raise typer.Exit(1)


def _depot_option(depot: str | None) -> UUID | None:
    if depot is None:
        return None
    try:
        return UUID(depot)
    except ValueError as exc:
        err.print("[red]--depot must be a depot id (UUID)[/red]")
        raise typer.Exit(2) from exc


DepotOption = Annotated[
    str | None, typer.Option("--depot", help="A depot's id (default: the global values).")
]


@flags_cli.command("list")
def flags_list(depot: DepotOption = None) -> None:
    """Every known flag: its value, where it comes from (DEPOT, GLOBAL, DEFAULT), what it gates."""
    from rich.table import Table

    from domain import flag_settings

    depot_id = _depot_option(depot)

    async def main() -> list[Any] | None:
        container = build_container(Settings())
        try:
            if depot_id is None:
                return await flag_settings.global_flags(container.deps)
            # A missing depot has no flags (every known flag applies to every depot).
            return await flag_settings.depot_flags(container.deps, EVERYWHERE, depot_id) or None
        finally:
            await container.close()

    migrations.upgrade(Settings().database_url)
    found = asyncio.run(main())
    if found is None:
        err.print(f"[red]no depot {depot_id}[/red]")
        raise typer.Exit(1)
    table = Table(title=f"feature flags for depot {depot_id}" if depot_id else "feature flags")
    table.add_column("key", no_wrap=True)
    for heading in ("enabled", "source", "description"):
        table.add_column(heading)
    for e in found:
        table.add_row(e.flag.key, "on" if e.enabled else "off", e.source.value, e.flag.description)
    out.print(table)


class Switch(StrEnum):
    ON = "on"
    OFF = "off"
    CLEAR = "clear"


@flags_cli.command("set")
def flags_set(
    key: Annotated[str, typer.Argument(help="The flag's key (see `flags list`).")],
    value: Annotated[Switch, typer.Argument(help="on, off, or clear (remove the setting).")],
    depot: DepotOption = None,
) -> None:
    """Set a flag globally or for one depot (--depot); `clear` falls back to the
    global value (for a depot) or the built-in default. Audited, without a token."""
    from domain import flag_settings
    from domain.feature_flags import FlagEvaluation

    depot_id = _depot_option(depot)
    enabled = {Switch.ON: True, Switch.OFF: False, Switch.CLEAR: None}[value]

    async def main() -> object:
        container = build_container(Settings())
        try:
            if depot is None:
                return await flag_settings.set_global_flag(container.deps, EVERYWHERE, key, enabled)
            return await flag_settings.set_depot_flag(
                container.deps, EVERYWHERE, key, enabled, depot_id
            )
        finally:
            await container.close()

    migrations.upgrade(Settings().database_url)
    result = asyncio.run(main())
    if not isinstance(result, FlagEvaluation):
        message = getattr(result, "message", str(result))
        details = [e.message for e in getattr(result, "field_errors", ())]
        err.print(f"[red]{' '.join(details) or message}[/red]")
        raise typer.Exit(1)
    where = f"depot {result.depot_id}" if result.depot_id else "global"
    out.print(
        f"{result.flag.key} ({where}): {'on' if result.enabled else 'off'}"
        f" from {result.source.value}"
    )


@cli.command()
def demo() -> None:
    """Create the demo depot (idempotent) and print one token per role."""
    from app.demo import DEMO_FLAGS, ensure_demo_depot, ensure_demo_flags

    settings = Settings()
    migrations.upgrade(settings.database_url)

    async def main() -> None:
        container = build_container(settings)
        try:
            depot_id, created = await ensure_demo_depot(container.deps, container.engine)
            out.print(f"demo depot {depot_id} ({'created' if created else 'already there'})")
            if await ensure_demo_flags(container.deps, depot_id):
                out.print(f"demo depot: {', '.join(DEMO_FLAGS)} turned on")
            for role in Role:
                issued = await container.tokens.issue(role, (), container.deps.clock.now(), "demo")
                out.print(f"{role.value:<12} token: {issued.token}")
        finally:
            await container.close()

    asyncio.run(main())


@cli.command("export-schema")
def export_schema(
    path: Annotated[Path, typer.Argument(help="Where to write the SDL.")] = Path(
        "graphql/schema.graphql"
    ),
) -> None:
    """Write the GraphQL SDL exported from the code."""
    from schema.root import export_sdl

    path.write_text(export_sdl())
    err.print(f"wrote {path}")


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
