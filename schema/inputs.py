"""Input types. Patch inputs keep UNSET (omitted) apart from None (explicit null)."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

import strawberry
from strawberry.scalars import JSON

from domain.circuits import KEEP, Keep
from domain.depots import NewCircuit
from schema.enums import CapabilityType, PowerSourceKind, SensorActionType

T = TypeVar("T")


def kept(value: T) -> T | Keep:
    """A patch field as the domain takes it: left out (UNSET) is KEEP."""
    return KEEP if value is strawberry.UNSET else value


@strawberry.input
class NewCircuitInput:
    name: str
    safe_capacity_w: float | None = None

    def to_domain(self) -> NewCircuit:
        return NewCircuit(self.name, self.safe_capacity_w)


@strawberry.input
class CreateDepotInput:
    name: str
    top_level_circuits: list[NewCircuitInput] = strawberry.field(
        default_factory=list,
        description="Initial top-level circuits; with none the depot is created unprovisioned.",
    )


@strawberry.input
class CreateCircuitInput:
    depot_id: strawberry.ID
    name: str
    parent_id: strawberry.ID | None = None
    safe_capacity_w: float | None = None
    position: int | None = None


@strawberry.input
class UpdateCircuitInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.UNSET
    safe_capacity_w: float | None = strawberry.UNSET
    position: int | None = strawberry.UNSET


@strawberry.input
class CreatePowerSourceInput:
    depot_id: strawberry.ID
    kind: PowerSourceKind
    name: str
    circuit_id: strawberry.ID | None = None


@strawberry.input
class CreateGatewayInput:
    depot_id: strawberry.ID
    name: str
    site_model_name: str | None = None
    output_translation: JSON | None = None


@strawberry.input
class CreateDeviceInput:
    depot_id: strawberry.ID
    name: str
    gateway_id: strawberry.ID | None = None
    circuit_id: strawberry.ID | None = None


@strawberry.input
class ConfigureSensorActionInput:
    device_id: strawberry.ID
    type: SensorActionType
    enabled: bool = True


@strawberry.input
class CreateControllerBindingInput:
    microgrid_id: strawberry.ID
    device_id: strawberry.ID
    capabilities: list[CapabilityType]
    stale_after_seconds: int | None = None


@strawberry.input
class UpdateControllerBindingInput:
    id: strawberry.ID
    device_id: strawberry.ID | None = strawberry.UNSET
    capabilities: list[CapabilityType] | None = strawberry.UNSET
    stale_after_seconds: int | None = strawberry.UNSET


@strawberry.input
class RecordCapabilityStatusInput:
    microgrid_id: strawberry.ID
    capability: CapabilityType
    value: bool
    observed_at: datetime
    provider_event_ref: str = strawberry.field(
        description="The provider's own id for this observation; a retry reuses it."
    )
    source_device_id: strawberry.ID | None = None
