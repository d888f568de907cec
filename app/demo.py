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
from domain.feature_flags import NEW_MICROGRID_FIELDS_LOAD_CHART, FlagSource
from domain.flag_settings import depot_flags, set_depot_flag
from domain.model import Device, Gateway, PowerSourceKind, SensorActionType
from domain.ports import Dependencies
from persistence import tables as t

DEMO_DEPOT_NAME = "Demo Depot"
DEMO_FLAGS = (NEW_MICROGRID_FIELDS_LOAD_CHART.key,)
"""Flags the demo depot shows on: a newcomer's first load page is the full one."""


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


async def ensure_demo_flags(deps: Dependencies, depot_id: UUID) -> bool:
    """Turn DEMO_FLAGS on for the demo depot unless they are already set on there
    (idempotent: a second run changes and audits nothing). Whether it changed any."""
    current = {e.flag.key: e for e in await depot_flags(deps, EVERYWHERE, depot_id)}
    changed = False
    for key in DEMO_FLAGS:
        found = current.get(key)
        if found is None or not (found.enabled and found.source is FlagSource.DEPOT):
            await set_depot_flag(deps, EVERYWHERE, key, True, depot_id)
            changed = True
    return changed
