"""The electrical structure below each grid connection, derived at read time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.circuit_tree import children_by_parent
from domain.model import Circuit, Device, GridConnection, PowerSource


class TopologyNodeKind(StrEnum):
    CIRCUIT = "CIRCUIT"
    POWER_SOURCE = "POWER_SOURCE"
    DEVICE = "DEVICE"


@dataclass(frozen=True)
class TopologyNode:
    id: UUID
    parent_id: UUID | None
    kind: TopologyNodeKind
    name: str
    depth: int
    grid_connection_id: UUID


def build(
    grid_connections: Iterable[GridConnection],
    circuits: Iterable[Circuit],
    power_sources: Iterable[PowerSource],
    devices: Iterable[Device],
) -> list[TopologyNode]:
    """Depth-first: each grid-connection circuit, then its power sources, its
    devices and its child circuits (in sibling order), recursively."""
    circuits = list(circuits)
    by_id = {c.id: c for c in circuits}
    children = children_by_parent(circuits)
    sources_on: dict[UUID, list[PowerSource]] = {}
    for ps in sorted(power_sources, key=lambda p: (p.name, str(p.id))):
        if ps.circuit_id is not None:
            sources_on.setdefault(ps.circuit_id, []).append(ps)
    devices_on: dict[UUID, list[Device]] = {}
    for dev in sorted(devices, key=lambda d: (d.name, str(d.id))):
        if dev.circuit_id is not None:
            devices_on.setdefault(dev.circuit_id, []).append(dev)

    nodes: list[TopologyNode] = []
    for gc in sorted(grid_connections, key=lambda n: n.position):
        root = by_id.get(gc.circuit_id)
        name = root.name if root else gc.name
        nodes.append(TopologyNode(gc.circuit_id, None, TopologyNodeKind.CIRCUIT, name, 0, gc.id))
        if root is None:
            continue
        stack: list[tuple[Circuit, int]] = [(root, 0)]
        while stack:
            circuit, depth = stack.pop()
            if depth > 0:
                nodes.append(
                    TopologyNode(
                        circuit.id,
                        circuit.parent_id,
                        TopologyNodeKind.CIRCUIT,
                        circuit.name,
                        depth,
                        gc.id,
                    )
                )
            for ps in sources_on.get(circuit.id, []):
                nodes.append(
                    TopologyNode(
                        ps.id, circuit.id, TopologyNodeKind.POWER_SOURCE, ps.name, depth + 1, gc.id
                    )
                )
            for dev in devices_on.get(circuit.id, []):
                nodes.append(
                    TopologyNode(
                        dev.id, circuit.id, TopologyNodeKind.DEVICE, dev.name, depth + 1, gc.id
                    )
                )
            stack.extend((child, depth + 1) for child in reversed(children.get(circuit.id, [])))
    return nodes
