"""Notices that something a live screen shows has changed. They are hints to
re-read, published only after the transaction that made the change commits."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID


class ChangeReason(StrEnum):
    SNAPSHOT = "SNAPSHOT"
    CAPABILITY_STATUS = "CAPABILITY_STATUS"
    FRESHNESS = "FRESHNESS"
    TOPOLOGY = "TOPOLOGY"
    POWER_SOURCE = "POWER_SOURCE"
    CAPACITY = "CAPACITY"
    BINDING = "BINDING"


@dataclass(frozen=True)
class Change:
    microgrid_id: UUID
    reason: ChangeReason
    revision: int
    event_id: UUID | None = None


class Publisher(Protocol):
    async def publish(self, changes: list[Change]) -> None:
        """Best effort: a lost notice costs latency, never correctness."""
        ...
