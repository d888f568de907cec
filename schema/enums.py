"""GraphQL enums of the contract: the domain's own enums, exposed as they are.

``strawberry.enum`` gives a domain enum its GraphQL definition (values by member
name) without copying its members, so a new member needs no schema change.
Schema code imports the enums from here, which makes sure each one is exposed
before a type refers to it."""

from __future__ import annotations

import strawberry

from domain.capability import CapabilityType, Freshness, OperationalStatus
from domain.capacity import CapacitySource, HeartbeatStatus
from domain.changes import ChangeReason
from domain.model import (
    BessOperationalMode,
    MicrogridNodeType,
    PowerSourceKind,
    SensorActionType,
)
from domain.packet_records import Outcome
from domain.topology import TopologyNodeKind

__all__ = [
    "BessOperationalMode",
    "CapabilityType",
    "CapacitySource",
    "ChangeReason",
    "Freshness",
    "HeartbeatStatus",
    "MicrogridNodeType",
    "OperationalStatus",
    "Outcome",
    "PowerSourceKind",
    "SensorActionType",
    "TopologyNodeKind",
]

strawberry.enum(PowerSourceKind)
strawberry.enum(TopologyNodeKind)
strawberry.enum(CapabilityType)
strawberry.enum(
    OperationalStatus,
    description="Operational status shown to operators; UNKNOWN until a status has been recorded.",
)
strawberry.enum(Freshness)
strawberry.enum(MicrogridNodeType)
strawberry.enum(BessOperationalMode)
strawberry.enum(HeartbeatStatus)
strawberry.enum(CapacitySource)
strawberry.enum(SensorActionType)
strawberry.enum(Outcome, name="ActionOutcome")
strawberry.enum(ChangeReason, name="CardUpdateReason")
