"""Depots and circuits written straight into a benchmark's database with COPY
(the API would make setting up thousands of them the slowest part of a run),
and provisioned ones with their tokens made by the real CLI."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg

from bench.serving import cli_together
from bench.stores import Database

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CIRCUIT_COLUMNS = [
    "id",
    "depot_id",
    "parent_id",
    "name",
    "position",
    "safe_capacity_w",
    "created_at",
]


async def insert_depots(dsn: str, depots: int, top_level: int) -> None:
    """``depots`` unprovisioned depots with ``top_level`` top-level circuits each."""
    conn = await asyncpg.connect(dsn)
    depot_rows, circuit_rows = [], []
    for d in range(depots):
        depot_id = uuid.uuid4()
        depot_rows.append((depot_id, f"Depot {d:06d}", NOW))
        circuit_rows += [
            (uuid.uuid4(), depot_id, None, f"Feeder {c}", c, None, NOW) for c in range(top_level)
        ]
    await conn.copy_records_to_table(
        "depots", records=depot_rows, columns=["id", "name", "created_at"]
    )
    await conn.copy_records_to_table(
        "circuits",
        records=circuit_rows,
        columns=CIRCUIT_COLUMNS,
    )
    await conn.close()


async def provisioned_depots(
    db: Database, count: int = 1
) -> tuple[list[tuple[str, str]], str, str]:
    """([(depot id, microgrid id)], integration token, operator token) of new depots."""
    await insert_depots(db.dsn, count, 2)
    _, integration, operator = await cli_together(
        db.url,
        ["backfill"],
        ["tokens", "create", "--role", "integration"],
        ["tokens", "create", "--role", "operator"],
    )
    integration, operator = integration.split()[-1], operator.split()[-1]
    conn = await asyncpg.connect(db.dsn)
    rows = await conn.fetch("SELECT id, depot_id FROM microgrids ORDER BY depot_id")
    await conn.close()
    return [(str(r["depot_id"]), str(r["id"])) for r in rows], integration, operator
