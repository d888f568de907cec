"""Creating a depot, with its microgrid provisioned in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from domain.access import Scope
from domain.audit import AuditEntry
from domain.circuit_tree import validate_capacity, validate_name
from domain.model import Circuit, Depot
from domain.ports import Dependencies
from domain.problems import FieldError, ValidationFailed
from domain.provisioning import MicrogridSync, provision

MAX_INITIAL_CIRCUITS = 100


@dataclass(frozen=True)
class NewCircuit:
    name: str
    safe_capacity_w: float | None = None


@dataclass(frozen=True)
class DepotCreated:
    depot: Depot
    sync: MicrogridSync


async def create_depot(
    deps: Dependencies, scope: Scope, name: str, top_level: list[NewCircuit]
) -> DepotCreated | ValidationFailed:
    errors = _validate(name, top_level, scope)
    if errors:
        return ValidationFailed(field_errors=tuple(errors))
    now = deps.clock.now()
    depot = Depot(id=deps.new_id(), name=name.strip(), created_at=now)
    circuits = [
        Circuit(
            id=deps.new_id(),
            depot_id=depot.id,
            name=c.name.strip(),
            parent_id=None,
            position=i,
            created_at=now,
            safe_capacity_w=c.safe_capacity_w,
        )
        for i, c in enumerate(top_level)
    ]
    async with deps.uow() as uow:
        await uow.depots.add(depot)
        for circuit in circuits:
            await uow.circuits.add(circuit)
        sync = await provision(uow, deps, depot.id, circuits)
        uow.audit(
            AuditEntry(
                "createDepot",
                now,
                depot.id,
                depot.id,
                {
                    "name": depot.name,
                    "topLevelCircuits": len(circuits),
                    "provisioning": sync.outcome.code.value,
                },
            )
        )
        await uow.commit()
    return DepotCreated(depot, sync)


def _validate(name: str, top_level: list[NewCircuit], scope: Scope) -> list[FieldError]:
    errors: list[FieldError] = []
    if scope.depot_ids is not None:
        errors.append(
            FieldError(
                "input", "FORBIDDEN_FOR_SCOPED_TOKEN", "A depot-scoped token cannot create depots."
            )
        )
    problem = validate_name(name)
    if problem:
        errors.extend(problem.field_errors)
    if len(top_level) > MAX_INITIAL_CIRCUITS:
        errors.append(
            FieldError(
                "input.topLevelCircuits",
                "TOO_MANY",
                f"At most {MAX_INITIAL_CIRCUITS} initial circuits.",
            )
        )
    for i, circuit in enumerate(top_level):
        for check in (
            validate_name(circuit.name, f"input.topLevelCircuits[{i}].name"),
            validate_capacity(
                circuit.safe_capacity_w, f"input.topLevelCircuits[{i}].safeCapacityW"
            ),
        ):
            if check:
                errors.extend(check.field_errors)
    return errors
