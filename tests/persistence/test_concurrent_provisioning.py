"""Exactly one microgrid per depot under concurrent provisioning, on PostgreSQL.

20 callers race for one depot with every provisioning path: backfill, resync
and the first top-level circuit. None of them sees an error; the database ends
with one microgrid whose grid connections match the circuits."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from sqlalchemy import func, select

from domain import microgrid_sync
from domain.access import EVERYWHERE
from domain.backfill import BackfillReport, backfill
from domain.circuits import CircuitChanged, NewCircuitCommand, create_circuit
from domain.depots import create_depot
from domain.problems import ProvisioningFailed
from domain.resync import Resynced, resync_microgrid
from persistence import tables as t
from persistence.database import create_engine
from persistence.unit_of_work import SqlUnitOfWorkFactory


@pytest.mark.stores("postgresql")
@pytest.mark.database_only(
    "concurrent connections, the depot row lock and the partial unique index"
)
async def test_twenty_concurrent_provisioning_attempts_make_one_microgrid(deps, store):
    engine = create_engine(
        deps.uow.engine.url.render_as_string(hide_password=False), pool_size=25, max_overflow=0
    )
    racing = type(deps)(uow=SqlUnitOfWorkFactory(engine), clock=deps.clock, new_id=uuid4)
    try:
        for _round in range(3):
            created = await create_depot(racing, EVERYWHERE, "Race", [])
            depot_id = created.depot.id

            async def first_circuit(i: int, depot_id=depot_id):
                return await create_circuit(
                    racing, EVERYWHERE, NewCircuitCommand(depot_id, f"Feeder {i}")
                )

            async def resync(_i: int, depot_id=depot_id):
                return await resync_microgrid(racing, EVERYWHERE, depot_id, dry_run=False)

            async def run_backfill(_i: int):
                return await backfill(racing, EVERYWHERE)

            # the first circuit must exist for resync/backfill to have something to provision
            attempts = [first_circuit(i) for i in range(8)]
            attempts += [resync(i) for i in range(6)] + [run_backfill(i) for i in range(6)]
            results = await asyncio.gather(*attempts, return_exceptions=True)

            assert not [r for r in results if isinstance(r, BaseException)], results
            for result in results:
                assert isinstance(
                    result, CircuitChanged | Resynced | BackfillReport | ProvisioningFailed
                ), result
                if isinstance(result, ProvisioningFailed):
                    assert result.code == "NO_TOP_LEVEL_CIRCUITS"  # raced ahead of every circuit
            provisioned = [
                r.sync.outcome.code.value for r in results if isinstance(r, CircuitChanged)
            ]
            assert provisioned.count("PROVISIONED") <= 1

            async with engine.connect() as conn:
                count = (
                    await conn.execute(
                        select(func.count())
                        .select_from(t.microgrids)
                        .where(t.microgrids.c.depot_id == depot_id)
                    )
                ).scalar_one()
            assert count == 1
            async with racing.uow(write=False) as uow:
                microgrid = await uow.microgrids.for_depot(depot_id)
                circuits = await uow.circuits.for_depot(depot_id)
            assert microgrid_sync.plan(microgrid, circuits).in_sync
            assert len(microgrid.grid_connections) == 8
    finally:
        await engine.dispose()
