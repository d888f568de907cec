"""Power sources, gateways and devices of a depot, and a device's sensor actions."""

from __future__ import annotations

from uuid import UUID

from domain import bindings, equipment
from domain.model import Device, Gateway, PowerSource, PowerSourceKind, SensorAction
from domain.model import SensorActionType as ActionType
from domain.problems import Conflict, FieldError, NotFound, ValidationFailed
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def create_power_source(
    ctx: RequestContext,
    depot_id: str,
    kind: PowerSourceKind,
    name: str,
    circuit_id: str | None = None,
) -> PowerSource | NotFound | ValidationFailed:
    circuit = parse_id(circuit_id)
    if circuit_id is not None and circuit is None:
        return _bad_circuit()
    return await equipment.create_power_source(
        ctx.deps,
        ctx.require_principal().scope,
        equipment.NewPowerSource(parse_id(depot_id), kind, name, circuit),
    )


async def create_gateway(
    ctx: RequestContext,
    depot_id: str,
    name: str,
    site_model_name: str | None = None,
    output_translation: dict[str, object] | None = None,
) -> Gateway | NotFound | ValidationFailed:
    return await equipment.create_gateway(
        ctx.deps,
        ctx.require_principal().scope,
        equipment.NewGateway(parse_id(depot_id), name, site_model_name, output_translation),
    )


async def create_device(
    ctx: RequestContext,
    depot_id: str,
    name: str,
    gateway_id: str | None = None,
    circuit_id: str | None = None,
) -> Device | NotFound | ValidationFailed:
    circuit, gateway = parse_id(circuit_id), parse_id(gateway_id)
    if circuit_id is not None and circuit is None:
        return _bad_circuit()
    if gateway_id is not None and gateway is None:
        return ValidationFailed(
            field_errors=(
                FieldError(
                    "input.gatewayId", "GATEWAY_NOT_IN_DEPOT", "The gateway is not in this depot."
                ),
            )
        )
    return await equipment.create_device(
        ctx.deps,
        ctx.require_principal().scope,
        equipment.NewDevice(parse_id(depot_id), name, gateway, circuit),
    )


async def device(ctx: RequestContext, id: str) -> Device | None:
    device_id = parse_id(id)
    return await ctx.loaders.device.load(device_id) if device_id else None


async def sensor_actions(ctx: RequestContext, device_id: UUID) -> list[SensorAction]:
    """The device's actions in the order of their types."""
    actions = await ctx.loaders.sensor_actions.load(device_id)
    order = list(ActionType)
    return sorted(actions, key=lambda a: order.index(a.type))


async def configure_sensor_action(
    ctx: RequestContext, device_id: str, type: ActionType, enabled: bool
) -> SensorAction | NotFound | ValidationFailed | Conflict:
    return await bindings.configure_sensor_action(
        ctx.deps, ctx.require_principal().scope, parse_id(device_id), type, enabled
    )


def _bad_circuit() -> ValidationFailed:
    return ValidationFailed(
        field_errors=(
            FieldError(
                "input.circuitId", "CIRCUIT_NOT_IN_DEPOT", "The circuit is not in this depot."
            ),
        )
    )
