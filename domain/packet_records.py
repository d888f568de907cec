"""What the service keeps of every packet: the packet and the outcome of each action."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.model import SensorActionType


class Outcome(StrEnum):
    APPLIED = "APPLIED"
    SKIPPED = "SKIPPED"
    REMEDIATION_REQUIRED = "REMEDIATION_REQUIRED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class ActionOutcome:
    sensor_action_id: UUID | None
    action: SensorActionType
    outcome: Outcome
    code: str
    message: str
    target_id: UUID | None = None
    measurands: tuple[str, ...] = ()


@dataclass(frozen=True)
class PacketRecord:
    id: UUID
    device_id: UUID
    observed_at: datetime
    received_at: datetime
    packet: dict[str, Any]
    outcomes: tuple[ActionOutcome, ...]
