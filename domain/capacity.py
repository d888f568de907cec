"""The capacity load management must use for a circuit, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.model import Circuit


class HeartbeatStatus(StrEnum):
    """HEARTBEAT_STATUS as a controller reports it (the packet's own values)."""

    OK = "ok"
    CONNECTION_LOST = "connection_lost"
    TIMEOUT = "timeout"
    ERROR = "error"


HEARTBEAT_OK = HeartbeatStatus.OK


class CapacitySource(StrEnum):
    CONTROLLER_AVAILABLE = "CONTROLLER_AVAILABLE"
    CONTROLLER_FAIL_SAFE = "CONTROLLER_FAIL_SAFE"
    CONFIGURED_SAFE = "CONFIGURED_SAFE"


@dataclass(frozen=True)
class EffectiveCapacity:
    watts: float | None
    source: CapacitySource | None


def effective_capacity(
    circuit: Circuit, now: datetime, stale_after_seconds: int
) -> EffectiveCapacity:
    """The available capacity while the heartbeat is "ok" and the report is
    fresh; else the controller's fail-safe capacity; else the configured safe
    capacity. Recovery is automatic: the next "ok" report counts again."""
    observed = circuit.capacity_observed_at
    fresh = observed is not None and now < observed + timedelta(seconds=stale_after_seconds)
    if (
        circuit.heartbeat_status == HEARTBEAT_OK
        and fresh
        and circuit.available_capacity_w is not None
    ):
        return EffectiveCapacity(circuit.available_capacity_w, CapacitySource.CONTROLLER_AVAILABLE)
    if circuit.fail_safe_capacity_w is not None:
        return EffectiveCapacity(circuit.fail_safe_capacity_w, CapacitySource.CONTROLLER_FAIL_SAFE)
    if circuit.safe_capacity_w is not None:
        return EffectiveCapacity(circuit.safe_capacity_w, CapacitySource.CONFIGURED_SAFE)
    return EffectiveCapacity(None, None)
