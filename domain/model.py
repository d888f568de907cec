"""Entities of the site model and the microgrid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class PowerSourceKind(StrEnum):
    BATTERY = "BATTERY"
    SOLAR = "SOLAR"
    GENERATOR = "GENERATOR"
    GRID = "GRID"
    OTHER = "OTHER"


@dataclass
class Depot:
    id: UUID
    name: str
    created_at: datetime


@dataclass
class Circuit:
    id: UUID
    depot_id: UUID
    name: str
    parent_id: UUID | None
    position: int
    created_at: datetime
    safe_capacity_w: float | None = None

    @property
    def is_top_level(self) -> bool:
        return self.parent_id is None


@dataclass
class GridConnection:
    """A persisted first-level microgrid node, one per top-level circuit."""

    id: UUID
    microgrid_id: UUID
    circuit_id: UUID
    name: str
    position: int


@dataclass
class Microgrid:
    id: UUID
    depot_id: UUID
    version: int
    created_at: datetime
    updated_at: datetime
    grid_connections: list[GridConnection] = field(default_factory=list)
    revision: int = 1
    """Counts changes to what the microgrid's card shows; never decreases."""


@dataclass
class PowerSource:
    id: UUID
    depot_id: UUID
    kind: PowerSourceKind
    name: str
    circuit_id: UUID | None
    created_at: datetime


@dataclass
class Gateway:
    id: UUID
    depot_id: UUID
    name: str
    site_model_name: str | None
    output_translation: dict[str, object] | None
    created_at: datetime


@dataclass
class Device:
    id: UUID
    depot_id: UUID
    name: str
    gateway_id: UUID | None
    circuit_id: UUID | None
    created_at: datetime
