"""Which stale threshold applies to a capability: the enabled controller
binding that owns it, else the service default."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from domain.capability import CapabilityType
from domain.model import SensorAction
from domain.ports import Dependencies, UnitOfWork


def thresholds(bindings: Iterable[SensorAction], default: int) -> dict[CapabilityType, int]:
    owned = {c: default for c in CapabilityType}
    for binding in bindings:
        if binding.enabled and binding.capabilities:
            for capability in binding.capabilities:
                owned[capability] = binding.stale_after_seconds or default
    return owned


async def stale_after_for(
    uow: UnitOfWork, deps: Dependencies, microgrid_id: UUID, capability: CapabilityType
) -> int:
    bindings = (await uow.sensor_actions.bindings_for_microgrids([microgrid_id])).get(
        microgrid_id, []
    )
    return thresholds(bindings, deps.stale_after_seconds)[capability]
