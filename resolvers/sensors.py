"""Devices, sensor actions, controller bindings and sensor-packet ingest."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from domain import bindings, reads
from domain.capability import CapabilityType
from domain.circuits import KEEP, Keep
from domain.model import SensorAction as DomainSensorAction
from domain.model import SensorActionType
from domain.packet_ingest import PacketIngested, ingest_packet
from domain.problems import invalid
from resolvers.ids import parse_id
from schema import inputs
from schema import results as r
from schema.problems import to_problem
from schema.types import ControllerBinding, Ctx, Device, PageInfo, SensorAction, gid


async def device(info: Ctx, id: strawberry.ID) -> Device | None:
    device_id = parse_id(id)
    found = await info.context.loaders.device.load(device_id) if device_id else None
    return Device.of(found) if found else None


async def controller_binding(info: Ctx, id: strawberry.ID) -> ControllerBinding | None:
    ctx = info.context
    found = await reads.controller_binding(ctx.deps, ctx.require_principal().scope, parse_id(id))
    return ControllerBinding.of(found) if found else None


async def sensor_packets(
    info: Ctx, device_id: strawberry.ID, first: int = 50, after: str | None = None
) -> r.SensorPacketConnection:
    ctx = info.context
    page = await reads.sensor_packets(
        ctx.deps, ctx.require_principal().scope, parse_id(device_id), first, after
    )
    edges = [
        r.SensorPacketEdge(cursor=reads.encode_packet_cursor(p), node=r.SensorPacketRecord.of(p))
        for p in page.records
    ]
    return r.SensorPacketConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page, end_cursor=edges[-1].cursor if edges else None
        ),
    )


async def configure_sensor_action(
    info: Ctx, input: inputs.ConfigureSensorActionInput
) -> r.SensorActionResult:
    ctx = info.context
    result = await bindings.configure_sensor_action(
        ctx.deps,
        ctx.require_principal().scope,
        parse_id(input.device_id),
        SensorActionType(input.type.value),
        input.enabled,
    )
    return SensorAction.of(result) if isinstance(result, DomainSensorAction) else to_problem(result)


def _binding_result(result: Any) -> r.ControllerBindingResult:
    if isinstance(result, DomainSensorAction):
        return ControllerBinding.of(result)
    return to_problem(result)


async def create_controller_binding(
    info: Ctx, input: inputs.CreateControllerBindingInput
) -> r.ControllerBindingResult:
    ctx = info.context
    device_id = parse_id(input.device_id)
    if device_id is None:
        return to_problem(invalid("input.deviceId", "DEVICE_NOT_FOUND", "No such device."))
    result = await bindings.create_binding(
        ctx.deps,
        ctx.require_principal().scope,
        parse_id(input.microgrid_id),
        device_id,
        [CapabilityType(c.value) for c in input.capabilities],
        input.stale_after_seconds,
    )
    return _binding_result(result)


async def update_controller_binding(
    info: Ctx, input: inputs.UpdateControllerBindingInput
) -> r.ControllerBindingResult:
    ctx = info.context
    device_id: Any = KEEP if input.device_id is strawberry.UNSET else parse_id(input.device_id)
    if not isinstance(device_id, Keep) and device_id is None:
        return to_problem(invalid("input.deviceId", "DEVICE_NOT_FOUND", "No such device."))
    capabilities: Any = (
        KEEP
        if input.capabilities is strawberry.UNSET
        else (
            None
            if input.capabilities is None
            else [CapabilityType(c.value) for c in input.capabilities]
        )
    )
    stale: Any = (
        KEEP if input.stale_after_seconds is strawberry.UNSET else (input.stale_after_seconds)
    )
    result = await bindings.update_binding(
        ctx.deps,
        ctx.require_principal().scope,
        bindings.BindingPatch(parse_id(input.id), device_id, capabilities, stale),
    )
    return _binding_result(result)


async def disable_controller_binding(info: Ctx, id: strawberry.ID) -> r.ControllerBindingResult:
    ctx = info.context
    return _binding_result(
        await bindings.set_binding_enabled(
            ctx.deps, ctx.require_principal().scope, parse_id(id), False
        )
    )


async def enable_controller_binding(info: Ctx, id: strawberry.ID) -> r.ControllerBindingResult:
    ctx = info.context
    return _binding_result(
        await bindings.set_binding_enabled(
            ctx.deps, ctx.require_principal().scope, parse_id(id), True
        )
    )


async def ingest_sensor_packet(info: Ctx, packet: JSON) -> r.IngestSensorPacketResult:
    ctx = info.context
    result = await ingest_packet(ctx.deps, ctx.require_principal().scope, packet)
    if isinstance(result, PacketIngested):
        record = result.record
        return r.SensorPacketIngested(
            packet_id=gid(record.id),
            device_id=gid(record.device_id),
            received_at=record.received_at,
            outcomes=[r.SensorActionOutcome.of(o) for o in record.outcomes],
        )
    return to_problem(result)
