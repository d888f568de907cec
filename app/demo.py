"""An idempotent demo depot for trying the product."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access import EVERYWHERE
from domain.circuits import NewCircuitCommand, create_circuit
from domain.depots import DepotCreated, NewCircuit, create_depot
from domain.ports import Dependencies
from persistence import tables as t

DEMO_DEPOT_NAME = "Demo Depot"


async def ensure_demo_depot(deps: Dependencies, engine: AsyncEngine) -> tuple[UUID, bool]:
    """The demo depot's id and whether this call created it."""
    async with engine.connect() as conn:
        existing = (
            await conn.execute(select(t.depots.c.id).where(t.depots.c.name == DEMO_DEPOT_NAME))
        ).first()
    if existing:
        return existing.id, False
    created = await create_depot(
        deps,
        EVERYWHERE,
        DEMO_DEPOT_NAME,
        [NewCircuit("Main switchboard A", 400_000.0), NewCircuit("Main switchboard B", 250_000.0)],
    )
    assert isinstance(created, DepotCreated)
    assert created.sync.microgrid is not None
    feeder = created.sync.microgrid.grid_connections[0].circuit_id
    for name in ("Charger bank 1", "Charger bank 2"):
        await create_circuit(
            deps,
            EVERYWHERE,
            NewCircuitCommand(
                depot_id=created.depot.id, name=name, parent_id=feeder, safe_capacity_w=150_000.0
            ),
        )
    return created.depot.id, True
