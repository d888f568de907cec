"""GraphQL enums of the contract."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class PowerSourceKind(Enum):
    BATTERY = "BATTERY"
    SOLAR = "SOLAR"
    GENERATOR = "GENERATOR"
    GRID = "GRID"
    OTHER = "OTHER"


@strawberry.enum
class TopologyNodeKind(Enum):
    CIRCUIT = "CIRCUIT"
    POWER_SOURCE = "POWER_SOURCE"
    DEVICE = "DEVICE"


@strawberry.enum
class CapabilityType(Enum):
    PEAK_SHAVING = "PEAK_SHAVING"
    DER = "DER"


@strawberry.enum(
    description="Operational status shown to operators; UNKNOWN until a status has been recorded."
)
class OperationalStatus(Enum):
    ON = "ON"
    OFF = "OFF"
    UNKNOWN = "UNKNOWN"


@strawberry.enum
class Freshness(Enum):
    FRESH = "FRESH"
    STALE = "STALE"
    NEVER_REPORTED = "NEVER_REPORTED"


@strawberry.enum
class MicrogridNodeType(Enum):
    GRID_CONNECTION = "GRID_CONNECTION"


@strawberry.enum
class BessOperationalMode(Enum):
    IDLE = "IDLE"
    CHARGING = "CHARGING"
    DISCHARGING = "DISCHARGING"
    AUTOMATIC = "AUTOMATIC"
    ERROR = "ERROR"


@strawberry.enum
class HeartbeatStatus(Enum):
    OK = "OK"
    CONNECTION_LOST = "CONNECTION_LOST"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"


@strawberry.enum
class CapacitySource(Enum):
    CONTROLLER_AVAILABLE = "CONTROLLER_AVAILABLE"
    CONTROLLER_FAIL_SAFE = "CONTROLLER_FAIL_SAFE"
    CONFIGURED_SAFE = "CONFIGURED_SAFE"


@strawberry.enum
class SensorActionType(Enum):
    UPDATE_MICROGRID_STATE = "UPDATE_MICROGRID_STATE"
    UPDATE_POWER_SOURCE_STATE = "UPDATE_POWER_SOURCE_STATE"
    UPDATE_POWER_SOURCE_LOAD = "UPDATE_POWER_SOURCE_LOAD"
    UPDATE_CIRCUIT_CAPACITY = "UPDATE_CIRCUIT_CAPACITY"


@strawberry.enum
class ActionOutcome(Enum):
    APPLIED = "APPLIED"
    SKIPPED = "SKIPPED"
    REMEDIATION_REQUIRED = "REMEDIATION_REQUIRED"
    REJECTED = "REJECTED"


@strawberry.enum
class CardUpdateReason(Enum):
    SNAPSHOT = "SNAPSHOT"
    CAPABILITY_STATUS = "CAPABILITY_STATUS"
    FRESHNESS = "FRESHNESS"
    TOPOLOGY = "TOPOLOGY"
    POWER_SOURCE = "POWER_SOURCE"
    CAPACITY = "CAPACITY"
    BINDING = "BINDING"
