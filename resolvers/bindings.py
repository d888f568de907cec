"""Controller bindings: which device feeds which capabilities of a microgrid."""

from __future__ import annotations

from uuid import UUID

from domain import bindings, reads
from domain.capability import CapabilityType
from domain.circuits import KEEP, Keep
from domain.model import Device, SensorAction
from domain.problems import invalid
from resolvers.context import RequestContext
from resolvers.ids import parse_id
from resolvers.patches import patched_id


async def controller_binding(ctx: RequestContext, id: str) -> SensorAction | None:
    return await reads.controller_binding(ctx.deps, ctx.require_principal().scope, parse_id(id))


async def create_controller_binding(
    ctx: RequestContext,
    microgrid_id: str,
    device_id: str,
    capabilities: list[CapabilityType],
    stale_after_seconds: int | None = None,
) -> bindings.BindingResult:
    device = parse_id(device_id)
    if device is None:
        return invalid("input.deviceId", "DEVICE_NOT_FOUND", "No such device.")
    return await bindings.create_binding(
        ctx.deps,
        ctx.require_principal().scope,
        parse_id(microgrid_id),
        device,
        capabilities,
        stale_after_seconds,
    )


async def update_controller_binding(
    ctx: RequestContext,
    id: str,
    device_id: str | Keep | None = KEEP,
    capabilities: list[CapabilityType] | Keep | None = KEEP,
    stale_after_seconds: int | Keep | None = KEEP,
) -> bindings.BindingResult:
    device = patched_id(device_id)
    if device is None:
        return invalid("input.deviceId", "DEVICE_NOT_FOUND", "No such device.")
    return await bindings.update_binding(
        ctx.deps,
        ctx.require_principal().scope,
        bindings.BindingPatch(parse_id(id), device, capabilities, stale_after_seconds),
    )


async def set_controller_binding_enabled(
    ctx: RequestContext, id: str, enabled: bool
) -> bindings.BindingResult:
    return await bindings.set_binding_enabled(
        ctx.deps, ctx.require_principal().scope, parse_id(id), enabled
    )


async def bindings_of_microgrid(
    ctx: RequestContext, microgrid_id: UUID, include_disabled: bool
) -> list[SensorAction]:
    """Oldest first; disabled ones only when asked for."""
    found = await ctx.loaders.bindings.load(microgrid_id)
    return [b for b in sorted(found, key=lambda b: b.created_at) if b.enabled or include_disabled]


async def bound_device(ctx: RequestContext, device_id: UUID) -> Device:
    found = await ctx.loaders.device.load(device_id)
    assert found is not None, "a binding's device exists (foreign key)"
    return found
