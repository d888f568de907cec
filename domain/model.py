"""Entities of the site model and the microgrid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.capability import CapabilityType


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
    available_capacity_w: float | None = None
    fail_safe_capacity_w: float | None = None
    heartbeat_status: str | None = None
    capacity_observed_at: datetime | None = None
    capacity_updated_at: datetime | None = None

    @property
    def is_top_level(self) -> bool:
        return self.parent_id is None


class MicrogridNodeType(StrEnum):
    """The kinds of persisted microgrid node."""

    GRID_CONNECTION = "GRID_CONNECTION"


@dataclass
class GridConnection:
    """A persisted first-level microgrid node, one per top-level circuit."""

    id: UUID
    microgrid_id: UUID
    circuit_id: UUID
    name: str
    position: int

    @property
    def node_type(self) -> MicrogridNodeType:
        return MicrogridNodeType.GRID_CONNECTION


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


class BessOperationalMode(StrEnum):
    IDLE = "IDLE"
    CHARGING = "CHARGING"
    DISCHARGING = "DISCHARGING"
    AUTOMATIC = "AUTOMATIC"
    ERROR = "ERROR"


@dataclass
class PowerSource:
    id: UUID
    depot_id: UUID
    kind: PowerSourceKind
    name: str
    circuit_id: UUID | None
    created_at: datetime
    power_state: str | None = None
    operational_mode: BessOperationalMode | None = None
    soc_percent: float | None = None
    load_w: float | None = None
    updated_at: datetime | None = None


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


class SensorActionType(StrEnum):
    UPDATE_MICROGRID_STATE = "UPDATE_MICROGRID_STATE"
    UPDATE_POWER_SOURCE_STATE = "UPDATE_POWER_SOURCE_STATE"
    UPDATE_POWER_SOURCE_LOAD = "UPDATE_POWER_SOURCE_LOAD"
    UPDATE_CIRCUIT_CAPACITY = "UPDATE_CIRCUIT_CAPACITY"


@dataclass
class SensorAction:
    """What a device's packets do. An UPDATE_MICROGRID_STATE action *is* the
    device's controller binding: the binding fields are set only for it."""

    id: UUID
    device_id: UUID
    type: SensorActionType
    enabled: bool
    created_at: datetime
    updated_at: datetime
    microgrid_id: UUID | None = None
    capabilities: list[CapabilityType] | None = None
    stale_after_seconds: int | None = None
    last_reported_at: datetime | None = None

    @property
    def is_binding(self) -> bool:
        return self.type is SensorActionType.UPDATE_MICROGRID_STATE
