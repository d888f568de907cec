"""Keeping a microgrid's grid-connection nodes in step with the top-level circuits."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.circuit_tree import top_level_in_order
from domain.model import Circuit, GridConnection, Microgrid


@dataclass(frozen=True)
class ResyncPlan:
    added: tuple[UUID, ...]
    removed: tuple[UUID, ...]
    renamed: tuple[UUID, ...]
    reordered: bool

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.reordered)

    @property
    def changes_version(self) -> bool:
        """The version follows the set and order of nodes; names do not count."""
        return bool(self.added or self.removed or self.reordered)


def plan(microgrid: Microgrid, circuits: Iterable[Circuit]) -> ResyncPlan:
    desired = top_level_in_order(circuits)
    desired_ids = [c.id for c in desired]
    current = sorted(microgrid.grid_connections, key=lambda n: n.position)
    current_ids = [n.circuit_id for n in current]
    current_set, desired_set = set(current_ids), set(desired_ids)
    names = {c.id: c.name for c in desired}
    kept_current_order = [cid for cid in current_ids if cid in desired_set]
    kept_desired_order = [cid for cid in desired_ids if cid in current_set]
    return ResyncPlan(
        added=tuple(cid for cid in desired_ids if cid not in current_set),
        removed=tuple(cid for cid in current_ids if cid not in desired_set),
        renamed=tuple(
            n.circuit_id for n in current if n.circuit_id in names and names[n.circuit_id] != n.name
        ),
        reordered=kept_current_order != kept_desired_order,
    )


def desired_nodes(
    microgrid: Microgrid, circuits: Iterable[Circuit], new_id: Callable[[], UUID]
) -> list[GridConnection]:
    """The grid connections the microgrid should have; existing node ids are kept."""
    existing = {n.circuit_id: n for n in microgrid.grid_connections}
    nodes = []
    for position, circuit in enumerate(top_level_in_order(circuits)):
        node = existing.get(circuit.id)
        nodes.append(
            GridConnection(
                id=node.id if node else new_id(),
                microgrid_id=microgrid.id,
                circuit_id=circuit.id,
                name=circuit.name,
                position=position,
            )
        )
    return nodes


def apply(
    microgrid: Microgrid,
    circuits: Iterable[Circuit],
    now: datetime,
    new_id: Callable[[], UUID],
) -> ResyncPlan:
    """Bring ``microgrid`` in line with ``circuits`` in memory; returns what changed."""
    circuits = list(circuits)
    result = plan(microgrid, circuits)
    if result.in_sync:
        return result
    microgrid.grid_connections = desired_nodes(microgrid, circuits, new_id)
    if result.changes_version:
        microgrid.version += 1
    microgrid.updated_at = now
    return result


def new_microgrid(
    depot_id: UUID, circuits: Iterable[Circuit], now: datetime, new_id: Callable[[], UUID]
) -> Microgrid | None:
    """A fresh microgrid for a depot, or None when it has no top-level circuit."""
    microgrid = Microgrid(id=new_id(), depot_id=depot_id, version=1, created_at=now, updated_at=now)
    microgrid.grid_connections = desired_nodes(microgrid, circuits, new_id)
    return microgrid if microgrid.grid_connections else None
