"""The `microgrid` command line, run as a user would run it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from app.container import build_container
from app.settings import Settings
from domain.access import EVERYWHERE
from domain.capability import CapabilityType, Observation
from domain.status_ingest import record_capability_status
from persistence import tables as t

BIN = Path(sys.executable).parent / "microgrid"


def run(
    database_url: str, *args: str, check: bool = True, columns: int = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": str(columns)}
    result = subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def sqlite_file_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


def test_migrate_creates_the_sqlite_file_on_first_run(sqlite_file_url, tmp_path):
    run(sqlite_file_url, "migrate")
    assert (tmp_path / "cli.db").exists()
    run(sqlite_file_url, "migrate")


def test_tokens_create_prints_the_token_alone_on_the_last_line(sqlite_file_url):
    result = run(sqlite_file_url, "tokens", "create", "--role", "operator")
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("mgs_") and " " not in last
    refused = run(sqlite_file_url, "tokens", "create", "--role", "root", check=False)
    assert refused.returncode != 0
    bad_depot = run(
        sqlite_file_url, "tokens", "create", "--role", "admin", "--depot", "nope", check=False
    )
    assert bad_depot.returncode == 2 and "UUID" in bad_depot.stderr


def test_demo_is_idempotent_and_prints_a_token_per_role(sqlite_file_url):
    first = run(sqlite_file_url, "demo")
    second = run(sqlite_file_url, "demo")
    assert "created" in first.stdout and "already there" in second.stdout
    for role in ("admin", "operator", "integration"):
        assert f"{role}" in second.stdout
    engine = create_engine(sqlite_file_url.replace("+aiosqlite", ""))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.depots)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(t.microgrids)).scalar_one() == 1


def test_backfill_reports_and_is_safe_to_rerun(sqlite_file_url):
    run(sqlite_file_url, "demo")
    engine = create_engine(sqlite_file_url.replace("+aiosqlite", ""))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM microgrid_nodes"))
        conn.execute(text("DELETE FROM microgrids"))

    dry = run(sqlite_file_url, "backfill", "--dry-run")
    assert "would create: 1" in dry.stdout
    first = run(sqlite_file_url, "backfill")
    assert "created: 1" in first.stdout and "backfill" in first.stderr
    again = run(sqlite_file_url, "backfill")
    assert "created: 0  already provisioned: 1" in again.stdout


def test_export_schema_writes_the_sdl(tmp_path, sqlite_file_url):
    target = tmp_path / "schema.graphql"
    run(sqlite_file_url, "export-schema", str(target))
    assert "type Microgrid" in target.read_text()


@pytest.mark.stores("postgresql")
def test_commands_honour_database_url_on_postgresql(database_url):
    run(database_url, "demo")
    result = run(database_url, "backfill")
    assert "already provisioned: 1" in result.stdout


def test_projections_rebuild_restores_the_projection_from_events(sqlite_file_url):
    run(sqlite_file_url, "demo")
    asyncio.run(_record_one_status(sqlite_file_url))
    engine = create_engine(sqlite_file_url.replace("+aiosqlite", ""))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM capability_latest"))

    result = run(sqlite_file_url, "projections", "rebuild")

    assert "rebuilt the latest-status projection: 1 row(s)" in result.stdout
    with engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM capability_latest")).scalar_one() == 1


async def _record_one_status(url: str) -> None:
    container = build_container(Settings(database_url=url))
    try:
        async with container.deps.uow(write=False) as uow:
            (microgrid,) = (
                await uow.microgrids.for_depots(
                    [d.id for d in await uow.depots.page(EVERYWHERE, 10, None)]
                )
            ).values()
        await record_capability_status(
            container.deps,
            EVERYWHERE,
            Observation(microgrid.id, CapabilityType.DER, True, datetime.now(UTC), "cli-test"),
        )
    finally:
        await container.close()


def test_tokens_list_revoke_and_expiry(sqlite_file_url):
    created = run(
        sqlite_file_url,
        "tokens",
        "create",
        "--role",
        "operator",
        "--label",
        "ops",
        "--expires-in",
        "12h",
    )
    token = created.stdout.strip().splitlines()[-1]
    listed = run(sqlite_file_url, "tokens", "list")
    assert "operator" in listed.stdout and "ops" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout, "secrets are never shown"
    engine = create_engine(sqlite_file_url.replace("+aiosqlite", ""))
    with engine.connect() as conn:
        token_id = conn.execute(text("SELECT id FROM api_tokens WHERE label = 'ops'")).scalar_one()
        expires = conn.execute(text("SELECT expires_at FROM api_tokens")).scalar_one()
    assert expires is not None
    token_id = str(uuid.UUID(hex=str(token_id).replace("-", "")))
    narrow = run(sqlite_file_url, "tokens", "list", columns=80).stdout
    assert token_id in narrow, "an 80-column terminal shows the whole id that revoke takes"
    assert run(sqlite_file_url, "tokens", "revoke", token_id).returncode == 0
    assert "revoked" in run(sqlite_file_url, "tokens", "list").stdout
    assert run(sqlite_file_url, "tokens", "revoke", token_id, check=False).returncode == 1
    assert run(sqlite_file_url, "tokens", "revoke", "nope", check=False).returncode == 2
    bad = run(
        sqlite_file_url, "tokens", "create", "--role", "admin", "--expires-in", "soon", check=False
    )
    assert bad.returncode == 2
