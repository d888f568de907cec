"""What every sensor action is: the measurands it reads, and a decision.

An action reads the packet and, through :class:`Facts`, the little stored
state it needs; it returns one outcome and the writes that go with it as
values. The use case performs the writes, so a path that takes many packets
at once can answer the same reads from what it loaded up front and group the
same writes by table, with the same action modules."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from domain.capability import StatusEvent
from domain.model import Circuit, Device, Gateway, PowerSource, SensorAction, SensorActionType
from domain.packet_records import ActionOutcome, Outcome
from domain.sensor_actions.writes import Write

if TYPE_CHECKING:
    # Only for annotations: the packet contract takes the capability keys from
    # update_microgrid_state, which imports this module.
    from domain.packets import Packet


class Facts(Protocol):
    """The stored state an action may read besides the packet."""

    async def power_sources(self, depot_id: UUID) -> list[PowerSource]: ...
    async def gateway(self, gateway_id: UUID) -> Gateway | None: ...
    async def circuit(self, circuit_id: UUID) -> Circuit | None: ...
    async def recorded(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        """The status event already stored under this idempotency key, if any."""
        ...


@dataclass(frozen=True, slots=True)
class Given:
    """What one configured action runs on: its record, the device, the packet."""

    action: SensorAction
    device: Device
    packet: Packet
    now: datetime
    stale_after_seconds: int = 300
    """The service's default staleness (``Dependencies.stale_after_seconds``)."""

    def present(self, keys: Sequence[str]) -> list[str]:
        """``keys`` the packet carries (null values included), in ``keys``' order."""
        return [k for k in keys if self.packet.has(k)]

    def outcome(
        self,
        outcome: Outcome,
        code: str,
        message: str,
        target_id: UUID | None = None,
        measurands: Sequence[str] = (),
    ) -> ActionOutcome:
        return ActionOutcome(
            self.action.id, self.action.type, outcome, code, message, target_id, tuple(measurands)
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The action's outcome and what to write for it, in order."""

    outcome: ActionOutcome
    writes: tuple[Write, ...] = ()


class ActionKind(ABC):
    """One sensor action type's behaviour."""

    type: SensorActionType
    keys: tuple[str, ...]
    """Every measurand key the action reads from a packet."""

    @abstractmethod
    async def decide(self, given: Given, facts: Facts) -> Decision: ...


def number(value: float | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def text(value: float | str | None) -> str | None:
    return value if isinstance(value, str) else None
