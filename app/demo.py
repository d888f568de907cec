"""An idempotent demo depot for trying the product."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access import EVERYWHERE
from domain.bindings import configure_sensor_action, create_binding
from domain.capability import CapabilityType
from domain.circuits import NewCircuitCommand, create_circuit
from domain.depots import DepotCreated, NewCircuit, create_depot
from domain.equipment import (
    NewDevice,
    NewGateway,
    NewPowerSource,
    create_device,
    create_gateway,
    create_power_source,
)
from domain.model import Device, Gateway, PowerSourceKind, SensorActionType
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
    await _controller(deps, created.depot.id, created.sync.microgrid.id, feeder)
    return created.depot.id, True


async def _controller(deps: Dependencies, depot_id: UUID, microgrid_id: UUID, feeder: UUID) -> None:
    """A BBA controller on the first feeder, bound to both capabilities, with a
    battery beside it: what the simulator's --depot needs."""
    gateway = await create_gateway(deps, EVERYWHERE, NewGateway(depot_id, "Site gateway"))
    assert isinstance(gateway, Gateway)
    device = await create_device(
        deps, EVERYWHERE, NewDevice(depot_id, "BBA microgrid controller", gateway.id, feeder)
    )
    assert isinstance(device, Device)
    await create_power_source(
        deps, EVERYWHERE, NewPowerSource(depot_id, PowerSourceKind.BATTERY, "BESS", feeder)
    )
    await create_binding(
        deps,
        EVERYWHERE,
        microgrid_id,
        device.id,
        list(CapabilityType),
        None,
    )
    for action in list(SensorActionType)[1:]:
        await configure_sensor_action(deps, EVERYWHERE, device.id, action, True)
