"""Rules the database itself enforces, and the same-transaction guarantee (on
every store, the in-memory fakes included)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from domain.access import EVERYWHERE
from domain.circuits import NewCircuitCommand, create_circuit
from domain.depots import DepotCreated, NewCircuit, create_depot
from persistence import tables as t

T = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.database_only("the partial unique index is the database's own rule")
async def test_a_second_active_microgrid_for_a_depot_is_refused_by_the_database(deps):
    created = await create_depot(deps, EVERYWHERE, "D", [NewCircuit("Top")])
    engine = deps.uow.engine
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                insert(t.microgrids).values(
                    id=uuid4(), depot_id=created.depot.id, version=1, created_at=T, updated_at=T
                )
            )
    async with engine.begin() as conn:
        await conn.execute(
            insert(t.microgrids).values(
                id=uuid4(),
                depot_id=created.depot.id,
                version=1,
                created_at=T,
                updated_at=T,
                retired_at=T,
            )
        )
        count = (
            await conn.execute(
                select(func.count())
                .select_from(t.microgrids)
                .where(t.microgrids.c.depot_id == created.depot.id)
            )
        ).scalar_one()
    assert count == 2, "a retired microgrid does not count against the one active"


async def test_a_failing_microgrid_sync_leaves_the_circuit_change_unwritten(deps, monkeypatch):
    created = await create_depot(deps, EVERYWHERE, "D", [NewCircuit("Top")])
    assert isinstance(created, DepotCreated)

    async def broken_save(self, microgrid):
        raise RuntimeError("crash between the circuit write and the microgrid sync")

    async with deps.uow(write=False) as uow:
        repository = type(uow.microgrids)  # the store's own: SQL, asyncpg or the fake
    monkeypatch.setattr(repository, "save", broken_save)
    with pytest.raises(RuntimeError):
        await create_circuit(deps, EVERYWHERE, NewCircuitCommand(created.depot.id, "Second"))

    async with deps.uow(write=False) as uow:
        names = sorted(c.name for c in await uow.circuits.for_depot(created.depot.id))
        microgrid = await uow.microgrids.for_depot(created.depot.id)
    assert names == ["Top"]
    assert [n.name for n in microgrid.grid_connections] == ["Top"]
