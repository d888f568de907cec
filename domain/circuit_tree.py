"""Rules of a depot's circuit tree: ordering, parent validity, children."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from domain.model import Circuit
from domain.plausible.measurands import MAX_POWER_W
from domain.plausible.text import NAME, check_text
from domain.problems import FieldError, ValidationFailed, invalid


def sibling_order(circuit: Circuit) -> tuple[int, str, str]:
    """Siblings are ordered by position, then creation time, then id."""
    return (circuit.position, circuit.created_at.isoformat(), str(circuit.id))


def ordered(circuits: Iterable[Circuit]) -> list[Circuit]:
    return sorted(circuits, key=sibling_order)


def top_level_in_order(circuits: Iterable[Circuit]) -> list[Circuit]:
    return ordered(c for c in circuits if c.is_top_level)


def children_by_parent(circuits: Iterable[Circuit]) -> dict[UUID | None, list[Circuit]]:
    groups: dict[UUID | None, list[Circuit]] = {}
    for circuit in circuits:
        groups.setdefault(circuit.parent_id, []).append(circuit)
    return {parent: ordered(children) for parent, children in groups.items()}


def validate_name(name: str, field_name: str = "input.name") -> ValidationFailed | None:
    checked = check_text(name, field_name, NAME)
    return ValidationFailed(field_errors=(checked,)) if isinstance(checked, FieldError) else None


def validate_parent(
    circuit_id: UUID | None,
    depot_id: UUID,
    parent_id: UUID,
    depot_circuits: Mapping[UUID, Circuit],
    field_name: str = "input.parentId",
) -> ValidationFailed | None:
    """A parent must exist in the same depot and must not make the tree cyclic.

    ``depot_circuits`` holds every circuit of ``depot_id``; a parent that is not
    among them is either unknown or in another depot, which look the same to the
    caller (no existence leak across depots).
    """
    parent = depot_circuits.get(parent_id)
    if parent is None or parent.depot_id != depot_id:
        return invalid(
            field_name, "PARENT_NOT_IN_DEPOT", "The parent circuit is not in this depot."
        )
    if circuit_id is None:
        return None
    seen: set[UUID] = set()
    cursor: Circuit | None = parent
    while cursor is not None and cursor.id not in seen:
        if cursor.id == circuit_id:
            return invalid(
                field_name, "CYCLE", "A circuit cannot be moved below itself or its descendants."
            )
        seen.add(cursor.id)
        cursor = depot_circuits.get(cursor.parent_id) if cursor.parent_id else None
    return None


def validate_capacity(value: float | None, field_name: str) -> ValidationFailed | None:
    if value is None:
        return None
    if not 0 <= value <= MAX_POWER_W:
        return invalid(
            field_name,
            "OUT_OF_RANGE",
            f"The capacity must be a number from 0 to {MAX_POWER_W:g} W.",
        )
    return None
