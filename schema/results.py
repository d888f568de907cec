"""Mutation payloads and the result unions of the contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from domain.packet_records import ActionOutcome as DomainActionOutcome
from domain.packet_records import PacketRecord
from domain.provisioning import MicrogridSync as DomainMicrogridSync
from domain.provisioning import ProvisioningOutcome as DomainOutcome
from schema.enums import Outcome as ActionOutcome
from schema.enums import SensorActionType
from schema.problems import Conflict, NotFound, ProvisioningFailed, ValidationFailed
from schema.types import (
    CapabilityStatus,
    CapabilityStatusEvent,
    Circuit,
    ControllerBinding,
    Depot,
    Device,
    Gateway,
    Microgrid,
    MicrogridCard,
    PageInfo,
    PowerSource,
    ResyncPlan,
    SensorAction,
    gid,
)


@strawberry.type
class ProvisioningOutcome:
    provisioned: bool
    code: str = strawberry.field(
        description="PROVISIONED, ALREADY_PROVISIONED or NO_TOP_LEVEL_CIRCUITS."
    )
    message: str

    @classmethod
    def of(cls, outcome: DomainOutcome) -> ProvisioningOutcome:
        return cls(
            provisioned=outcome.provisioned, code=outcome.code.value, message=outcome.message
        )


@strawberry.type
class CreateDepotSuccess:
    depot: Depot
    microgrid: Microgrid | None
    provisioning: ProvisioningOutcome


@strawberry.type(
    description="What a circuit change did to the depot's microgrid, in the same transaction."
)
class MicrogridSync:
    microgrid_id: strawberry.ID | None
    changed: bool
    version: int | None
    provisioning: ProvisioningOutcome

    @classmethod
    def of(cls, sync: DomainMicrogridSync) -> MicrogridSync:
        m = sync.microgrid
        return cls(
            microgrid_id=gid(m.id) if m else None,
            changed=sync.changed,
            version=m.version if m else None,
            provisioning=ProvisioningOutcome.of(sync.outcome),
        )


@strawberry.type
class CircuitSuccess:
    circuit: Circuit
    microgrid_sync: MicrogridSync


@strawberry.type
class DeleteCircuitSuccess:
    deleted_id: strawberry.ID
    microgrid_sync: MicrogridSync


@strawberry.type
class ResyncSuccess:
    microgrid: Microgrid
    changed: bool
    previous_version: int
    dry_run: bool
    plan: ResyncPlan


@strawberry.type
class BackfillReport:
    dry_run: bool
    created: int
    already_provisioned: int
    skipped_no_top_level_circuits: int
    created_microgrid_ids: list[strawberry.ID]


@strawberry.type
class CapabilityStatusRecorded:
    event: CapabilityStatusEvent
    latest: CapabilityStatus
    duplicate: bool = strawberry.field(
        description=(
            "True when this providerEventRef had already been recorded with the same content."
        )
    )


@strawberry.type
class SensorActionOutcome:
    sensor_action_id: strawberry.ID | None
    action: SensorActionType
    outcome: ActionOutcome
    code: str = strawberry.field(
        description="APPLIED, MEASURAND_ABSENT, NO_POWER_SOURCE, AMBIGUOUS_POWER_SOURCE, ..."
    )
    message: str
    target_id: strawberry.ID | None = strawberry.field(
        description="The microgrid, power source or circuit that the action wrote to."
    )
    measurands: list[str]

    @classmethod
    def of(cls, o: DomainActionOutcome) -> SensorActionOutcome:
        return cls(
            sensor_action_id=gid(o.sensor_action_id) if o.sensor_action_id else None,
            action=SensorActionType(o.action.value),
            outcome=ActionOutcome(o.outcome.value),
            code=o.code,
            message=o.message,
            target_id=gid(o.target_id) if o.target_id else None,
            measurands=list(o.measurands),
        )


@strawberry.type
class SensorPacketIngested:
    packet_id: strawberry.ID
    device_id: strawberry.ID
    received_at: datetime
    outcomes: list[SensorActionOutcome]


@strawberry.type
class SensorPacketRecord:
    id: strawberry.ID
    device_id: strawberry.ID
    observed_at: datetime = strawberry.field(description="The packet timestamp.")
    received_at: datetime
    packet: JSON
    outcomes: list[SensorActionOutcome]

    @classmethod
    def of(cls, r: PacketRecord) -> SensorPacketRecord:
        return cls(
            id=gid(r.id),
            device_id=gid(r.device_id),
            observed_at=r.observed_at,
            received_at=r.received_at,
            packet=cast(JSON, r.packet),
            outcomes=[SensorActionOutcome.of(o) for o in r.outcomes],
        )


@strawberry.type
class SensorPacketEdge:
    cursor: str
    node: SensorPacketRecord


@strawberry.type
class SensorPacketConnection:
    edges: list[SensorPacketEdge]
    page_info: PageInfo


MicrogridResult = Annotated[Microgrid | NotFound, strawberry.union("MicrogridResult")]
MicrogridCardResult = Annotated[MicrogridCard | NotFound, strawberry.union("MicrogridCardResult")]
CreateDepotResult = Annotated[
    CreateDepotSuccess | ValidationFailed, strawberry.union("CreateDepotResult")
]
CircuitResult = Annotated[
    CircuitSuccess | NotFound | ValidationFailed | Conflict, strawberry.union("CircuitResult")
]
DeleteCircuitResult = Annotated[
    DeleteCircuitSuccess | NotFound | Conflict, strawberry.union("DeleteCircuitResult")
]
ResyncResult = Annotated[
    ResyncSuccess | NotFound | ProvisioningFailed, strawberry.union("ResyncResult")
]
PowerSourceResult = Annotated[
    PowerSource | NotFound | ValidationFailed, strawberry.union("PowerSourceResult")
]
GatewayResult = Annotated[Gateway | NotFound | ValidationFailed, strawberry.union("GatewayResult")]
DeviceResult = Annotated[Device | NotFound | ValidationFailed, strawberry.union("DeviceResult")]
SensorActionResult = Annotated[
    SensorAction | NotFound | ValidationFailed | Conflict, strawberry.union("SensorActionResult")
]
ControllerBindingResult = Annotated[
    ControllerBinding | NotFound | ValidationFailed | Conflict,
    strawberry.union("ControllerBindingResult"),
]
RecordCapabilityStatusResult = Annotated[
    CapabilityStatusRecorded | NotFound | ValidationFailed | Conflict,
    strawberry.union("RecordCapabilityStatusResult"),
]
IngestSensorPacketResult = Annotated[
    SensorPacketIngested | NotFound | ValidationFailed, strawberry.union("IngestSensorPacketResult")
]
