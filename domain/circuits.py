"""Circuit changes; each one syncs the depot's microgrid in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from domain.access import Scope
from domain.audit import AuditEntry
from domain.circuit_tree import validate_capacity, validate_name, validate_parent
from domain.model import Circuit
from domain.ports import Dependencies, UnitOfWork
from domain.problems import Conflict, NotFound, ValidationFailed, collect, invalid
from domain.provisioning import MicrogridSync, sync_depot

MAX_POSITION = 1_000_000


class Keep:
    """Marks a patch field the caller left out (as opposed to an explicit null)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


@dataclass(frozen=True)
class CircuitChanged:
    circuit: Circuit
    sync: MicrogridSync


@dataclass(frozen=True)
class CircuitDeleted:
    circuit_id: UUID
    sync: MicrogridSync


@dataclass(frozen=True)
class NewCircuitCommand:
    depot_id: UUID | None
    name: str
    parent_id: UUID | None = None
    safe_capacity_w: float | None = None
    position: int | None = None


@dataclass(frozen=True)
class CircuitPatch:
    circuit_id: UUID | None
    name: str | Keep | None = KEEP
    parent_id: UUID | Keep | None = KEEP
    safe_capacity_w: float | Keep | None = KEEP
    position: int | Keep | None = KEEP


LAST_GRID_CONNECTION = Conflict(
    "LAST_GRID_CONNECTION",
    "This is the last top-level circuit of a provisioned depot; its microgrid needs it.",
)


async def create_circuit(
    deps: Dependencies, scope: Scope, cmd: NewCircuitCommand
) -> CircuitChanged | NotFound | ValidationFailed:
    async with deps.uow() as uow:
        visible = cmd.depot_id is not None and scope.allows(cmd.depot_id)
        depot = await uow.depots.lock(cmd.depot_id) if visible and cmd.depot_id else None
        if depot is None:
            return NotFound("Depot", str(cmd.depot_id) if cmd.depot_id else None)
        circuits = await uow.circuits.for_depot(depot.id)
        by_id = {c.id: c for c in circuits}
        errors = collect(
            validate_name(cmd.name),
            validate_capacity(cmd.safe_capacity_w, "input.safeCapacityW"),
            validate_parent(None, depot.id, cmd.parent_id, by_id) if cmd.parent_id else None,
            _validate_position(cmd.position),
        )
        if errors:
            return ValidationFailed(field_errors=errors)
        siblings = [c for c in circuits if c.parent_id == cmd.parent_id]
        position = cmd.position if cmd.position is not None else _next_position(siblings)
        circuit = Circuit(
            id=deps.new_id(),
            depot_id=depot.id,
            name=cmd.name.strip(),
            parent_id=cmd.parent_id,
            position=position,
            created_at=deps.clock.now(),
            safe_capacity_w=cmd.safe_capacity_w,
        )
        await uow.circuits.add(circuit)
        sync = await sync_depot(uow, deps, depot.id, [*circuits, circuit])
        uow.audit(_entry("createCircuit", circuit, deps, sync))
        await uow.commit()
    return CircuitChanged(circuit, sync)


async def update_circuit(
    deps: Dependencies, scope: Scope, patch: CircuitPatch
) -> CircuitChanged | NotFound | ValidationFailed | Conflict:
    async with deps.uow() as uow:
        found = await _locked_circuit(uow, scope, patch.circuit_id)
        if isinstance(found, NotFound):
            return found
        current, circuits = found
        by_id = {c.id: c for c in circuits}
        errors = collect(
            validate_name(patch.name)
            if isinstance(patch.name, str)
            else _required("input.name")
            if patch.name is None
            else None,
            validate_capacity(patch.safe_capacity_w, "input.safeCapacityW")
            if not isinstance(patch.safe_capacity_w, Keep)
            else None,
            validate_parent(current.id, current.depot_id, patch.parent_id, by_id)
            if isinstance(patch.parent_id, UUID)
            else None,
            _required("input.position")
            if patch.position is None
            else _validate_position(patch.position)
            if isinstance(patch.position, int)
            else None,
        )
        if errors:
            return ValidationFailed(field_errors=errors)
        updated = replace(
            current,
            name=patch.name.strip() if isinstance(patch.name, str) else current.name,
            parent_id=current.parent_id if isinstance(patch.parent_id, Keep) else patch.parent_id,
            safe_capacity_w=current.safe_capacity_w
            if isinstance(patch.safe_capacity_w, Keep)
            else patch.safe_capacity_w,
            position=patch.position if isinstance(patch.position, int) else current.position,
        )
        if updated.parent_id != current.parent_id and isinstance(patch.position, Keep):
            updated.position = _next_position(
                [c for c in circuits if c.parent_id == updated.parent_id and c.id != current.id]
            )
        after = [updated if c.id == current.id else c for c in circuits]
        if await _would_lose_last_grid_connection(uow, current.depot_id, after):
            return LAST_GRID_CONNECTION
        await uow.circuits.update(updated)
        sync = await sync_depot(uow, deps, current.depot_id, after)
        uow.audit(_entry("updateCircuit", updated, deps, sync))
        await uow.commit()
    return CircuitChanged(updated, sync)


async def delete_circuit(
    deps: Dependencies, scope: Scope, circuit_id: UUID | None
) -> CircuitDeleted | NotFound | Conflict:
    async with deps.uow() as uow:
        found = await _locked_circuit(uow, scope, circuit_id)
        if isinstance(found, NotFound):
            return found
        current, circuits = found
        if any(c.parent_id == current.id for c in circuits):
            return Conflict("CIRCUIT_HAS_CHILDREN", "Delete or move this circuit's children first.")
        if await _has_equipment(uow, current):
            return Conflict(
                "CIRCUIT_HAS_EQUIPMENT",
                "Power sources or devices are wired to this circuit; move them first.",
            )
        after = [c for c in circuits if c.id != current.id]
        if await _would_lose_last_grid_connection(uow, current.depot_id, after):
            return LAST_GRID_CONNECTION
        await uow.circuits.delete(current.id)
        sync = await sync_depot(uow, deps, current.depot_id, after)
        uow.audit(_entry("deleteCircuit", current, deps, sync))
        await uow.commit()
    return CircuitDeleted(current.id, sync)


async def _locked_circuit(
    uow: UnitOfWork, scope: Scope, circuit_id: UUID | None
) -> tuple[Circuit, list[Circuit]] | NotFound:
    """The circuit and all circuits of its depot, with the depot locked."""
    missing = NotFound("Circuit", str(circuit_id) if circuit_id else None)
    circuit = await uow.circuits.get(circuit_id, scope) if circuit_id else None
    if circuit is None:
        return missing
    await uow.depots.lock(circuit.depot_id)
    circuits = await uow.circuits.for_depot(circuit.depot_id)
    current = next((c for c in circuits if c.id == circuit.id), None)
    return (current, circuits) if current else missing


async def _would_lose_last_grid_connection(
    uow: UnitOfWork, depot_id: UUID, after: list[Circuit]
) -> bool:
    if any(c.is_top_level for c in after):
        return False
    return await uow.microgrids.for_depot(depot_id) is not None


async def _has_equipment(uow: UnitOfWork, circuit: Circuit) -> bool:
    depot = [circuit.depot_id]
    sources = (await uow.equipment.power_sources(depot)).get(circuit.depot_id, [])
    devices = (await uow.equipment.devices(depot)).get(circuit.depot_id, [])
    wired = [s.circuit_id for s in sources] + [d.circuit_id for d in devices]
    return circuit.id in wired


def _entry(action: str, circuit: Circuit, deps: Dependencies, sync: MicrogridSync) -> AuditEntry:
    return AuditEntry(
        action,
        deps.clock.now(),
        circuit.id,
        circuit.depot_id,
        {
            "name": circuit.name,
            "parentId": str(circuit.parent_id) if circuit.parent_id else None,
            "position": circuit.position,
            "safeCapacityW": circuit.safe_capacity_w,
            "microgridChanged": sync.changed,
        },
    )


def _next_position(siblings: list[Circuit]) -> int:
    return max((c.position for c in siblings), default=-1) + 1


def _validate_position(position: int | None) -> ValidationFailed | None:
    if position is not None and not 0 <= position <= MAX_POSITION:
        return invalid(
            "input.position", "OUT_OF_RANGE", f"The position must be between 0 and {MAX_POSITION}."
        )
    return None


def _required(field_name: str) -> ValidationFailed:
    return invalid(field_name, "REQUIRED", "This field cannot be null.")
