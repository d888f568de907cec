"""The Mutation root: each field turns its input into plain values or domain
commands, calls its resolver and maps the domain result (problems included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from resolvers import bindings, capability_status, circuits, depots, equipment, flags, packets
from resolvers import microgrid as microgrid_cases
from resolvers.packets import ingest_sensor_packets
from schema import inputs
from schema import results as r
from schema.access import RoleAllowed
from schema.binding import ControllerBinding
from schema.common import Ctx
from schema.equipment import Device, Gateway, PowerSource, SensorAction
from schema.flags import FeatureFlag, SetFeatureFlagInput, SetFeatureFlagResult
from schema.inputs import kept
from schema.packets import SensorPacketIngested
from schema.problems import present
from schema.root_results import RootResult


def guarded_mutation(resolver: Callable[..., Any], description: str | None = None) -> Any:
    return strawberry.mutation(
        resolver=resolver,
        permission_classes=[RoleAllowed],
        description=description,
        extensions=[RootResult()],
    )


async def _create_depot(info: Ctx, input: inputs.CreateDepotInput) -> r.CreateDepotResult:
    created = await depots.new_depot(
        info.context, input.name, [c.to_domain() for c in input.top_level_circuits]
    )
    return present(created, r.CreateDepotSuccess.from_domain)


async def _create_circuit(info: Ctx, input: inputs.CreateCircuitInput) -> r.CircuitResult:
    changed = await circuits.create_circuit(
        info.context,
        input.depot_id,
        input.name,
        parent_id=input.parent_id,
        safe_capacity_w=input.safe_capacity_w,
        position=input.position,
    )
    return present(changed, r.CircuitSuccess.from_domain)


async def _update_circuit(info: Ctx, input: inputs.UpdateCircuitInput) -> r.CircuitResult:
    changed = await circuits.update_circuit(
        info.context,
        input.id,
        name=kept(input.name),
        parent_id=kept(input.parent_id),
        safe_capacity_w=kept(input.safe_capacity_w),
        position=kept(input.position),
    )
    return present(changed, r.CircuitSuccess.from_domain)


async def _delete_circuit(info: Ctx, id: strawberry.ID) -> r.DeleteCircuitResult:
    deleted = await circuits.delete_circuit(info.context, id)
    return present(deleted, r.DeleteCircuitSuccess.from_domain)


async def _resync_microgrid(
    info: Ctx, depot_id: strawberry.ID, dry_run: bool = False
) -> r.ResyncResult:
    resynced = await microgrid_cases.resync(info.context, depot_id, dry_run)
    return present(resynced, r.ResyncSuccess.from_domain)


async def _backfill_microgrids(info: Ctx, dry_run: bool = False) -> r.BackfillReport:
    report = await microgrid_cases.backfill_microgrids(info.context, dry_run)
    return r.BackfillReport.from_domain(report)


async def _create_power_source(
    info: Ctx, input: inputs.CreatePowerSourceInput
) -> r.PowerSourceResult:
    created = await equipment.create_power_source(
        info.context, input.depot_id, input.kind, input.name, input.circuit_id
    )
    return present(created, PowerSource.from_domain)


async def _create_gateway(info: Ctx, input: inputs.CreateGatewayInput) -> r.GatewayResult:
    created = await equipment.create_gateway(
        info.context,
        input.depot_id,
        input.name,
        input.site_model_name,
        cast(dict[str, object] | None, input.output_translation),
    )
    return present(created, Gateway.from_domain)


async def _create_device(info: Ctx, input: inputs.CreateDeviceInput) -> r.DeviceResult:
    created = await equipment.create_device(
        info.context, input.depot_id, input.name, input.gateway_id, input.circuit_id
    )
    return present(created, Device.from_domain)


async def _configure_sensor_action(
    info: Ctx, input: inputs.ConfigureSensorActionInput
) -> r.SensorActionResult:
    configured = await equipment.configure_sensor_action(
        info.context, input.device_id, input.type, input.enabled
    )
    return present(configured, SensorAction.from_domain)


async def _create_controller_binding(
    info: Ctx, input: inputs.CreateControllerBindingInput
) -> r.ControllerBindingResult:
    created = await bindings.create_controller_binding(
        info.context,
        input.microgrid_id,
        input.device_id,
        input.capabilities,
        input.stale_after_seconds,
    )
    return present(created, ControllerBinding.from_domain)


async def _update_controller_binding(
    info: Ctx, input: inputs.UpdateControllerBindingInput
) -> r.ControllerBindingResult:
    updated = await bindings.update_controller_binding(
        info.context,
        input.id,
        device_id=kept(input.device_id),
        capabilities=kept(input.capabilities),
        stale_after_seconds=kept(input.stale_after_seconds),
    )
    return present(updated, ControllerBinding.from_domain)


async def _disable_controller_binding(info: Ctx, id: strawberry.ID) -> r.ControllerBindingResult:
    changed = await bindings.set_controller_binding_enabled(info.context, id, False)
    return present(changed, ControllerBinding.from_domain)


async def _enable_controller_binding(info: Ctx, id: strawberry.ID) -> r.ControllerBindingResult:
    changed = await bindings.set_controller_binding_enabled(info.context, id, True)
    return present(changed, ControllerBinding.from_domain)


async def _record_capability_status(
    info: Ctx, input: inputs.RecordCapabilityStatusInput
) -> r.RecordCapabilityStatusResult:
    recorded = await capability_status.record_status(
        info.context,
        input.microgrid_id,
        input.capability,
        input.value,
        input.observed_at,
        input.provider_event_ref,
        input.source_device_id,
    )
    return present(recorded, r.CapabilityStatusRecorded.from_domain)


async def _ingest_sensor_packet(info: Ctx, packet: JSON) -> r.IngestSensorPacketResult:
    ingested = await packets.ingest_sensor_packet(info.context, packet)
    return present(ingested, SensorPacketIngested.from_domain)


async def _ingest_sensor_packets(info: Ctx, packets: list[JSON]) -> r.IngestSensorPacketsResult:
    ingested = await ingest_sensor_packets(info.context, packets)
    return present(ingested, r.SensorPacketsIngested.from_domain)


async def _set_feature_flag(info: Ctx, input: SetFeatureFlagInput) -> SetFeatureFlagResult:
    enabled = None if input.enabled is strawberry.UNSET else input.enabled
    depot_id = None if input.depot_id is strawberry.UNSET else input.depot_id
    changed = await flags.set_feature_flag(info.context, input.key, enabled, depot_id)
    return present(changed, FeatureFlag.from_domain)


@strawberry.type
class Mutation:
    create_depot: r.CreateDepotResult = guarded_mutation(_create_depot)
    create_circuit: r.CircuitResult = guarded_mutation(_create_circuit)
    update_circuit: r.CircuitResult = guarded_mutation(_update_circuit)
    delete_circuit: r.DeleteCircuitResult = guarded_mutation(_delete_circuit)
    resync_microgrid: r.ResyncResult = guarded_mutation(_resync_microgrid)
    backfill_microgrids: r.BackfillReport = guarded_mutation(_backfill_microgrids)
    create_power_source: r.PowerSourceResult = guarded_mutation(_create_power_source)
    create_gateway: r.GatewayResult = guarded_mutation(_create_gateway)
    create_device: r.DeviceResult = guarded_mutation(_create_device)
    configure_sensor_action: r.SensorActionResult = guarded_mutation(_configure_sensor_action)
    create_controller_binding: r.ControllerBindingResult = guarded_mutation(
        _create_controller_binding
    )
    update_controller_binding: r.ControllerBindingResult = guarded_mutation(
        _update_controller_binding
    )
    disable_controller_binding: r.ControllerBindingResult = guarded_mutation(
        _disable_controller_binding
    )
    enable_controller_binding: r.ControllerBindingResult = guarded_mutation(
        _enable_controller_binding
    )
    record_capability_status: r.RecordCapabilityStatusResult = guarded_mutation(
        _record_capability_status,
        "The canonical capability-status path (site power monitor and other providers).",
    )
    ingest_sensor_packet: r.IngestSensorPacketResult = guarded_mutation(
        _ingest_sensor_packet,
        "A generic IoT sensor packet, exactly as a gateway sends it (snake_case JSON).",
    )
    ingest_sensor_packets: r.IngestSensorPacketsResult = guarded_mutation(
        _ingest_sensor_packets,
        "Up to 100 packets (a gateway's buffer). Each packet is accepted or refused on its own, "
        "exactly as ingestSensorPacket would.",
    )
    set_feature_flag: SetFeatureFlagResult = guarded_mutation(
        _set_feature_flag, "An admin's global or per-depot value of a flag (audited; null clears)."
    )
