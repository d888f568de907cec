"""Circuits: create, update, delete (each syncs the microgrid), and a circuit's
children and effective capacity."""

from __future__ import annotations

from uuid import UUID

from domain import circuits as cases
from domain.capacity import EffectiveCapacity, effective_capacity
from domain.circuits import KEEP, CircuitPatch, Keep, NewCircuitCommand
from domain.model import Circuit
from domain.problems import Conflict, FieldError, NotFound, ValidationFailed
from resolvers.context import RequestContext
from resolvers.ids import parse_id
from resolvers.patches import patched_id

CircuitResult = cases.CircuitChanged | NotFound | ValidationFailed | Conflict


async def create_circuit(
    ctx: RequestContext,
    depot_id: str,
    name: str,
    parent_id: str | None = None,
    safe_capacity_w: float | None = None,
    position: int | None = None,
) -> CircuitResult:
    parent = parse_id(parent_id)
    if parent_id is not None and parent is None:
        return _bad_parent()
    return await cases.create_circuit(
        ctx.deps,
        ctx.require_principal().scope,
        NewCircuitCommand(
            depot_id=parse_id(depot_id),
            name=name,
            parent_id=parent,
            safe_capacity_w=safe_capacity_w,
            position=position,
        ),
    )


async def update_circuit(
    ctx: RequestContext,
    id: str,
    name: str | Keep | None = KEEP,
    parent_id: str | Keep | None = KEEP,
    safe_capacity_w: float | Keep | None = KEEP,
    position: int | Keep | None = KEEP,
) -> CircuitResult:
    parent = patched_id(parent_id)
    if isinstance(parent_id, str) and parent is None:
        return _bad_parent()
    patch = CircuitPatch(
        circuit_id=parse_id(id),
        name=name,
        parent_id=parent,
        safe_capacity_w=safe_capacity_w,
        position=position,
    )
    return await cases.update_circuit(ctx.deps, ctx.require_principal().scope, patch)


async def delete_circuit(
    ctx: RequestContext, id: str
) -> cases.CircuitDeleted | NotFound | Conflict:
    return await cases.delete_circuit(ctx.deps, ctx.require_principal().scope, parse_id(id))


async def children(ctx: RequestContext, circuit: Circuit) -> list[Circuit]:
    return await ctx.loaders.children(circuit.depot_id, circuit.id)


async def circuit_in_depot(ctx: RequestContext, depot_id: UUID, circuit_id: UUID) -> Circuit | None:
    """The depot's circuit with this id; None once it no longer exists."""
    circuits = await ctx.loaders.circuits.load(depot_id)
    return next((c for c in circuits if c.id == circuit_id), None)


def capacity_now(ctx: RequestContext, circuit: Circuit) -> EffectiveCapacity:
    deps = ctx.deps
    return effective_capacity(circuit, deps.clock.now(), deps.stale_after_seconds)


def _bad_parent() -> ValidationFailed:
    return ValidationFailed(
        field_errors=(
            FieldError(
                "input.parentId", "PARENT_NOT_IN_DEPOT", "The parent circuit is not in this depot."
            ),
        )
    )
