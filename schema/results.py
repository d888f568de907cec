"""Mutation payloads and the result unions of the contract."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.backfill import BackfillReport as DomainBackfillReport
from domain.circuits import CircuitChanged, CircuitDeleted
from domain.depots import DepotCreated
from domain.packet_ingest import PacketsIngested
from domain.provisioning import MicrogridSync as DomainMicrogridSync
from domain.provisioning import ProvisioningOutcome as DomainOutcome
from domain.resync import Resynced
from domain.status_ingest import StatusRecorded
from schema.binding import ControllerBinding
from schema.capability import CapabilityStatus, CapabilityStatusEvent
from schema.card import MicrogridCard
from schema.circuit import Circuit
from schema.common import gid, gid_or_none
from schema.depot import Depot
from schema.equipment import Device, Gateway, PowerSource, SensorAction
from schema.microgrid import Microgrid, ResyncPlan
from schema.packets import SensorPacketIngested
from schema.problems import Conflict, NotFound, ProvisioningFailed, ValidationFailed, present


@strawberry.type
class ProvisioningOutcome:
    provisioned: bool
    code: str = strawberry.field(
        description="PROVISIONED, ALREADY_PROVISIONED or NO_TOP_LEVEL_CIRCUITS."
    )
    message: str

    @classmethod
    def from_domain(cls, outcome: DomainOutcome) -> ProvisioningOutcome:
        return cls(
            provisioned=outcome.provisioned, code=outcome.code.value, message=outcome.message
        )


@strawberry.type
class CreateDepotSuccess:
    depot: Depot
    microgrid: Microgrid | None
    provisioning: ProvisioningOutcome

    @classmethod
    def from_domain(cls, created: DepotCreated) -> CreateDepotSuccess:
        microgrid = created.sync.microgrid
        return cls(
            depot=Depot.from_domain(created.depot),
            microgrid=Microgrid.from_domain(microgrid) if microgrid else None,
            provisioning=ProvisioningOutcome.from_domain(created.sync.outcome),
        )


@strawberry.type(
    description="What a circuit change did to the depot's microgrid, in the same transaction."
)
class MicrogridSync:
    microgrid_id: strawberry.ID | None
    changed: bool
    version: int | None
    provisioning: ProvisioningOutcome

    @classmethod
    def from_domain(cls, sync: DomainMicrogridSync) -> MicrogridSync:
        m = sync.microgrid
        return cls(
            microgrid_id=gid_or_none(m.id if m else None),
            changed=sync.changed,
            version=m.version if m else None,
            provisioning=ProvisioningOutcome.from_domain(sync.outcome),
        )


@strawberry.type
class CircuitSuccess:
    circuit: Circuit
    microgrid_sync: MicrogridSync

    @classmethod
    def from_domain(cls, changed: CircuitChanged) -> CircuitSuccess:
        return cls(
            circuit=Circuit.from_domain(changed.circuit),
            microgrid_sync=MicrogridSync.from_domain(changed.sync),
        )


@strawberry.type
class DeleteCircuitSuccess:
    deleted_id: strawberry.ID
    microgrid_sync: MicrogridSync

    @classmethod
    def from_domain(cls, deleted: CircuitDeleted) -> DeleteCircuitSuccess:
        return cls(
            deleted_id=gid(deleted.circuit_id),
            microgrid_sync=MicrogridSync.from_domain(deleted.sync),
        )


@strawberry.type
class ResyncSuccess:
    microgrid: Microgrid
    changed: bool
    previous_version: int
    dry_run: bool
    plan: ResyncPlan

    @classmethod
    def from_domain(cls, resynced: Resynced) -> ResyncSuccess:
        return cls(
            microgrid=Microgrid.from_domain(resynced.microgrid),
            changed=resynced.changed,
            previous_version=resynced.previous_version,
            dry_run=resynced.dry_run,
            plan=ResyncPlan.from_domain(resynced.plan),
        )


@strawberry.type
class BackfillReport:
    dry_run: bool
    created: int
    already_provisioned: int
    skipped_no_top_level_circuits: int
    created_microgrid_ids: list[strawberry.ID]

    @classmethod
    def from_domain(cls, report: DomainBackfillReport) -> BackfillReport:
        return cls(
            dry_run=report.dry_run,
            created=report.created,
            already_provisioned=report.already_provisioned,
            skipped_no_top_level_circuits=report.skipped_no_top_level_circuits,
            created_microgrid_ids=[gid(i) for i in report.created_microgrid_ids],
        )


@strawberry.type
class CapabilityStatusRecorded:
    event: CapabilityStatusEvent
    latest: CapabilityStatus
    duplicate: bool = strawberry.field(
        description=(
            "True when this providerEventRef had already been recorded with the same content."
        )
    )

    @classmethod
    def from_domain(cls, recorded: StatusRecorded) -> CapabilityStatusRecorded:
        return cls(
            event=CapabilityStatusEvent.from_domain(recorded.event),
            latest=CapabilityStatus.from_domain(recorded.latest),
            duplicate=recorded.duplicate,
        )


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


@strawberry.type
class SensorPacketsIngested:
    results: list[IngestSensorPacketResult] = strawberry.field(
        description="One result per packet, in the order sent."
    )
    accepted: int
    refused: int

    @classmethod
    def from_domain(cls, ingested: PacketsIngested) -> SensorPacketsIngested:
        return cls(
            results=[present(r, SensorPacketIngested.from_domain) for r in ingested.results],
            accepted=ingested.accepted,
            refused=ingested.refused,
        )


IngestSensorPacketsResult = Annotated[
    SensorPacketsIngested | ValidationFailed, strawberry.union("IngestSensorPacketsResult")
]
