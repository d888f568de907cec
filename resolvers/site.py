"""Depots, circuits and equipment: queries and configuration mutations."""

from __future__ import annotations

from typing import TypeVar, cast
from uuid import UUID

import strawberry

from domain import circuits as circuit_cases
from domain import equipment, reads
from domain.circuits import KEEP, CircuitPatch, Keep, NewCircuitCommand
from domain.depots import NewCircuit, create_depot
from domain.model import PowerSourceKind
from domain.problems import FieldError, NotFound, ValidationFailed
from resolvers.ids import parse_id
from schema import inputs
from schema import results as r
from schema.problems import to_problem
from schema.types import (
    Circuit,
    Ctx,
    Depot,
    DepotConnection,
    DepotEdge,
    Device,
    Gateway,
    Microgrid,
    PageInfo,
    PowerSource,
    gid,
)

_T = TypeVar("_T")


async def depot(info: Ctx, id: strawberry.ID) -> Depot | None:
    depot_id = parse_id(id)
    found = await info.context.loaders.depot.load(depot_id) if depot_id else None
    return Depot.of(found) if found else None


async def depots(info: Ctx, first: int = 50, after: str | None = None) -> DepotConnection:
    ctx = info.context
    page = await reads.depot_page(ctx.deps, ctx.require_principal().scope, first, after)
    edges = [DepotEdge(cursor=page.cursor(d), node=Depot.of(d)) for d in page.items]
    return DepotConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def create_depot_mutation(info: Ctx, input: inputs.CreateDepotInput) -> r.CreateDepotResult:
    ctx = info.context
    result = await create_depot(
        ctx.deps,
        ctx.require_principal().scope,
        input.name,
        [NewCircuit(c.name, c.safe_capacity_w) for c in input.top_level_circuits],
    )
    if isinstance(result, ValidationFailed):
        return to_problem(result)
    microgrid = result.sync.microgrid
    return r.CreateDepotSuccess(
        depot=Depot.of(result.depot),
        microgrid=Microgrid.of(microgrid) if microgrid else None,
        provisioning=r.ProvisioningOutcome.of(result.sync.outcome),
    )


async def create_circuit(info: Ctx, input: inputs.CreateCircuitInput) -> r.CircuitResult:
    ctx = info.context
    parent_id = parse_id(input.parent_id)
    if input.parent_id is not None and parent_id is None:
        return to_problem(_bad_parent())
    result = await circuit_cases.create_circuit(
        ctx.deps,
        ctx.require_principal().scope,
        NewCircuitCommand(
            depot_id=parse_id(input.depot_id),
            name=input.name,
            parent_id=parent_id,
            safe_capacity_w=input.safe_capacity_w,
            position=input.position,
        ),
    )
    return _circuit_result(result)


async def update_circuit(info: Ctx, input: inputs.UpdateCircuitInput) -> r.CircuitResult:
    ctx = info.context
    parent_id: UUID | Keep | None = _patched(input.parent_id)
    if isinstance(input.parent_id, str) and parent_id is None:
        return to_problem(_bad_parent())
    patch = CircuitPatch(
        circuit_id=parse_id(input.id),
        name=_kept(input.name),
        parent_id=parent_id,
        safe_capacity_w=_kept(input.safe_capacity_w),
        position=_kept(input.position),
    )
    result = await circuit_cases.update_circuit(ctx.deps, ctx.require_principal().scope, patch)
    return _circuit_result(result)


def _circuit_result(result: object) -> r.CircuitResult:
    if isinstance(result, circuit_cases.CircuitChanged):
        return r.CircuitSuccess(
            circuit=Circuit.of(result.circuit), microgrid_sync=r.MicrogridSync.of(result.sync)
        )
    return to_problem(result)  # type: ignore[arg-type]


async def delete_circuit(info: Ctx, id: strawberry.ID) -> r.DeleteCircuitResult:
    ctx = info.context
    result = await circuit_cases.delete_circuit(
        ctx.deps, ctx.require_principal().scope, parse_id(id)
    )
    if isinstance(result, circuit_cases.CircuitDeleted):
        return r.DeleteCircuitSuccess(
            deleted_id=gid(result.circuit_id), microgrid_sync=r.MicrogridSync.of(result.sync)
        )
    return to_problem(result)


async def create_power_source(
    info: Ctx, input: inputs.CreatePowerSourceInput
) -> r.PowerSourceResult:
    ctx = info.context
    circuit_id = parse_id(input.circuit_id)
    if input.circuit_id is not None and circuit_id is None:
        return to_problem(_bad_circuit())
    result = await equipment.create_power_source(
        ctx.deps,
        ctx.require_principal().scope,
        equipment.NewPowerSource(
            parse_id(input.depot_id), PowerSourceKind(input.kind.value), input.name, circuit_id
        ),
    )
    if isinstance(result, NotFound | ValidationFailed):
        return to_problem(result)
    return PowerSource.of(result)


async def create_gateway(info: Ctx, input: inputs.CreateGatewayInput) -> r.GatewayResult:
    ctx = info.context
    result = await equipment.create_gateway(
        ctx.deps,
        ctx.require_principal().scope,
        equipment.NewGateway(
            parse_id(input.depot_id),
            input.name,
            input.site_model_name,
            cast(dict[str, object] | None, input.output_translation),
        ),
    )
    if isinstance(result, NotFound | ValidationFailed):
        return to_problem(result)
    return Gateway.of(result)


async def create_device(info: Ctx, input: inputs.CreateDeviceInput) -> r.DeviceResult:
    ctx = info.context
    circuit_id, gateway_id = parse_id(input.circuit_id), parse_id(input.gateway_id)
    if input.circuit_id is not None and circuit_id is None:
        return to_problem(_bad_circuit())
    if input.gateway_id is not None and gateway_id is None:
        return to_problem(
            ValidationFailed(
                field_errors=(
                    FieldError(
                        "input.gatewayId",
                        "GATEWAY_NOT_IN_DEPOT",
                        "The gateway is not in this depot.",
                    ),
                )
            )
        )
    result = await equipment.create_device(
        ctx.deps,
        ctx.require_principal().scope,
        equipment.NewDevice(parse_id(input.depot_id), input.name, gateway_id, circuit_id),
    )
    if isinstance(result, NotFound | ValidationFailed):
        return to_problem(result)
    return Device.of(result)


def _bad_parent() -> ValidationFailed:
    return ValidationFailed(
        field_errors=(
            FieldError(
                "input.parentId", "PARENT_NOT_IN_DEPOT", "The parent circuit is not in this depot."
            ),
        )
    )


def _bad_circuit() -> ValidationFailed:
    return ValidationFailed(
        field_errors=(
            FieldError(
                "input.circuitId", "CIRCUIT_NOT_IN_DEPOT", "The circuit is not in this depot."
            ),
        )
    )


def _kept(value: _T) -> _T | Keep:
    return KEEP if value is strawberry.UNSET else value


def _patched(value: object) -> UUID | Keep | None:
    if value is strawberry.UNSET:
        return KEEP
    return None if value is None else parse_id(str(value))
