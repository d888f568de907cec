"""Controller bindings and sensor actions: which device feeds what.

A controller binding *is* its device's UPDATE_MICROGRID_STATE sensor action.
Every change holds the depot, checks everything, and either changes nothing
(field errors / Conflict) or commits and tells live cards (BINDING)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from domain.access import Scope
from domain.audit import AuditEntry
from domain.capability import CapabilityType
from domain.changes import Change, ChangeReason
from domain.circuits import KEEP, Keep
from domain.model import Device, Microgrid, SensorAction, SensorActionType
from domain.ports import Dependencies, UnitOfWork
from domain.problems import Conflict, FieldError, NotFound, ValidationFailed

MAX_STALE_AFTER_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class BindingPatch:
    binding_id: UUID | None
    device_id: UUID | Keep | None = KEEP
    capabilities: list[CapabilityType] | Keep | None = KEEP
    stale_after_seconds: int | Keep | None = KEEP


BindingResult = SensorAction | NotFound | ValidationFailed | Conflict


async def create_binding(
    deps: Dependencies,
    scope: Scope,
    microgrid_id: UUID | None,
    device_id: UUID | None,
    capabilities: list[CapabilityType],
    stale_after_seconds: int | None,
) -> BindingResult:
    async with deps.uow() as uow:
        microgrid = await _locked_microgrid(uow, scope, microgrid_id)
        if microgrid is None:
            return NotFound("Microgrid", str(microgrid_id) if microgrid_id else None)
        device = await uow.equipment.device(device_id, scope) if device_id else None
        errors = _check(microgrid, device, capabilities, stale_after_seconds)
        if errors:
            return ValidationFailed(field_errors=errors)
        assert device is not None
        existing = await _binding_of(uow, device.id)
        if existing is not None:
            return Conflict(
                "DEVICE_ALREADY_BOUND",
                f"Device {device.id} already has a controller binding "
                f"({existing.id}); update that one.",
            )
        now = deps.clock.now()
        binding = SensorAction(
            id=deps.new_id(),
            device_id=device.id,
            type=SensorActionType.UPDATE_MICROGRID_STATE,
            enabled=True,
            created_at=now,
            updated_at=now,
            microgrid_id=microgrid.id,
            capabilities=list(capabilities),
            stale_after_seconds=stale_after_seconds or deps.stale_after_seconds,
        )
        conflict = await _capability_conflict(uow, binding)
        if conflict:
            return conflict
        await uow.sensor_actions.add(binding)
        await _announce(uow, microgrid.id)
        uow.audit(_entry("createControllerBinding", binding, microgrid, now))
        await uow.commit()
    return binding


async def update_binding(deps: Dependencies, scope: Scope, patch: BindingPatch) -> BindingResult:
    async with deps.uow() as uow:
        found = await _visible_binding(uow, scope, patch.binding_id)
        if isinstance(found, NotFound):
            return found
        binding, microgrid = found
        device_id = binding.device_id if isinstance(patch.device_id, Keep) else patch.device_id
        device = await uow.equipment.device(device_id, scope) if device_id else None
        capabilities = (
            (binding.capabilities or [])
            if isinstance(patch.capabilities, Keep)
            else patch.capabilities
        )
        stale_after = (
            binding.stale_after_seconds
            if isinstance(patch.stale_after_seconds, Keep)
            else patch.stale_after_seconds
        )
        errors = _check(
            microgrid,
            device,
            capabilities,
            stale_after,
            required_stale=not isinstance(patch.stale_after_seconds, Keep),
        )
        if errors:
            return ValidationFailed(field_errors=errors)
        assert device is not None and capabilities is not None
        if device.id != binding.device_id:
            other = await _binding_of(uow, device.id)
            if other is not None:
                return Conflict(
                    "DEVICE_ALREADY_BOUND", f"Device {device.id} already has a controller binding."
                )
        updated = replace(
            binding,
            device_id=device.id,
            capabilities=list(capabilities),
            stale_after_seconds=stale_after,
            updated_at=deps.clock.now(),
        )
        conflict = await _capability_conflict(uow, updated)
        if conflict:
            return conflict
        await uow.sensor_actions.update(updated)
        await _announce(uow, microgrid.id)
        uow.audit(_entry("updateControllerBinding", updated, microgrid, updated.updated_at))
        await uow.commit()
    return updated


async def set_binding_enabled(
    deps: Dependencies, scope: Scope, binding_id: UUID | None, enabled: bool
) -> SensorAction | NotFound | Conflict:
    """Disabling keeps the record and stops ingest through it; enabling
    re-checks that no other enabled binding took its capabilities meanwhile."""
    async with deps.uow() as uow:
        found = await _visible_binding(uow, scope, binding_id)
        if isinstance(found, NotFound):
            return found
        binding, microgrid = found
        if binding.enabled == enabled:
            return binding
        updated = replace(binding, enabled=enabled, updated_at=deps.clock.now())
        conflict = await _capability_conflict(uow, updated)
        if conflict:
            return conflict
        await uow.sensor_actions.update(updated)
        await _announce(uow, microgrid.id)
        action_name = "enableControllerBinding" if enabled else "disableControllerBinding"
        uow.audit(_entry(action_name, updated, microgrid, updated.updated_at))
        await uow.commit()
    return updated


async def configure_sensor_action(
    deps: Dependencies,
    scope: Scope,
    device_id: UUID | None,
    action_type: SensorActionType,
    enabled: bool,
) -> SensorAction | NotFound | ValidationFailed | Conflict:
    """Create or switch a device's action of one type (one per type per device).
    UPDATE_MICROGRID_STATE needs a controller binding: create that instead."""
    async with deps.uow() as uow:
        device = await uow.equipment.device(device_id, scope) if device_id else None
        if device is None:
            return NotFound("Device", str(device_id) if device_id else None)
        await uow.depots.lock(device.depot_id)
        existing = next(
            (
                a
                for a in (await uow.sensor_actions.for_devices([device.id])).get(device.id, [])
                if a.type is action_type
            ),
            None,
        )
        if action_type is SensorActionType.UPDATE_MICROGRID_STATE and existing is None:
            return ValidationFailed(
                field_errors=(
                    FieldError(
                        "input.type",
                        "BINDING_REQUIRED",
                        "UPDATE_MICROGRID_STATE is a controller binding: create it with "
                        "createControllerBinding (microgrid, capabilities, stale threshold).",
                    ),
                )
            )
    if action_type is SensorActionType.UPDATE_MICROGRID_STATE:
        assert existing is not None
        return await set_binding_enabled(deps, scope, existing.id, enabled)
    async with deps.uow() as uow:
        await uow.depots.lock(device.depot_id)
        existing = next(
            (
                a
                for a in (await uow.sensor_actions.for_devices([device.id])).get(device.id, [])
                if a.type is action_type
            ),
            None,
        )
        now = deps.clock.now()
        if existing is None:
            action = SensorAction(
                id=deps.new_id(),
                device_id=device.id,
                type=action_type,
                enabled=enabled,
                created_at=now,
                updated_at=now,
            )
            await uow.sensor_actions.add(action)
        elif existing.enabled != enabled:
            action = replace(existing, enabled=enabled, updated_at=now)
            await uow.sensor_actions.update(action)
        else:
            return existing
        uow.audit(
            AuditEntry(
                "configureSensorAction",
                now,
                action.id,
                device.depot_id,
                {"deviceId": str(device.id), "type": action.type.value, "enabled": action.enabled},
            )
        )
        await uow.commit()
    return action


def _check(
    microgrid: Microgrid,
    device: Device | None,
    capabilities: list[CapabilityType] | None,
    stale_after_seconds: int | None,
    required_stale: bool = False,
) -> tuple[FieldError, ...]:
    errors: list[FieldError] = []
    if device is None:
        errors.append(FieldError("input.deviceId", "DEVICE_NOT_FOUND", "No such device."))
    elif device.depot_id != microgrid.depot_id:
        errors.append(
            FieldError(
                "input.deviceId",
                "DEVICE_NOT_IN_DEPOT",
                "The device is not in this microgrid's depot.",
            )
        )
    if not capabilities:
        errors.append(FieldError("input.capabilities", "REQUIRED", "Name at least one capability."))
    elif len(set(capabilities)) != len(capabilities):
        errors.append(
            FieldError("input.capabilities", "DUPLICATE", "Each capability may be named once.")
        )
    if stale_after_seconds is None and required_stale:
        errors.append(
            FieldError(
                "input.staleAfterSeconds", "REQUIRED", "staleAfterSeconds cannot be cleared."
            )
        )
    elif stale_after_seconds is not None and not 0 < stale_after_seconds <= (
        MAX_STALE_AFTER_SECONDS
    ):
        errors.append(
            FieldError(
                "input.staleAfterSeconds",
                "OUT_OF_RANGE",
                f"staleAfterSeconds must be between 1 and {MAX_STALE_AFTER_SECONDS}.",
            )
        )
    return tuple(errors)


async def _locked_microgrid(
    uow: UnitOfWork, scope: Scope, microgrid_id: UUID | None
) -> Microgrid | None:
    microgrid = await uow.microgrids.get(microgrid_id, scope) if microgrid_id else None
    if microgrid is None:
        return None
    await uow.depots.lock(microgrid.depot_id)
    return microgrid


async def _visible_binding(
    uow: UnitOfWork, scope: Scope, binding_id: UUID | None
) -> tuple[SensorAction, Microgrid] | NotFound:
    missing = NotFound("ControllerBinding", str(binding_id) if binding_id else None)
    binding = await uow.sensor_actions.get(binding_id, scope) if binding_id else None
    if binding is None or not binding.is_binding or binding.microgrid_id is None:
        return missing
    microgrid = await _locked_microgrid(uow, scope, binding.microgrid_id)
    if microgrid is None:
        return missing
    fresh = await uow.sensor_actions.get(binding.id)
    return (fresh, microgrid) if fresh is not None else missing


async def _binding_of(uow: UnitOfWork, device_id: UUID) -> SensorAction | None:
    actions = (await uow.sensor_actions.for_devices([device_id])).get(device_id, [])
    return next((a for a in actions if a.is_binding), None)


async def _capability_conflict(uow: UnitOfWork, binding: SensorAction) -> Conflict | None:
    if not binding.enabled or binding.microgrid_id is None:
        return None
    others = (await uow.sensor_actions.bindings_for_microgrids([binding.microgrid_id])).get(
        binding.microgrid_id, []
    )
    for other in others:
        if other.id == binding.id or not other.enabled:
            continue
        taken = sorted(set(other.capabilities or []) & set(binding.capabilities or []))
        if taken:
            return Conflict(
                "CAPABILITY_ALREADY_BOUND",
                f"{', '.join(taken)} is already owned by the enabled binding "
                f"{other.id} of device {other.device_id}.",
            )
    return None


def _entry(action: str, binding: SensorAction, microgrid: Microgrid, at: datetime) -> AuditEntry:
    return AuditEntry(
        action,
        at,
        binding.id,
        microgrid.depot_id,
        {
            "microgridId": str(microgrid.id),
            "deviceId": str(binding.device_id),
            "capabilities": [c.value for c in binding.capabilities or []],
            "enabled": binding.enabled,
            "staleAfterSeconds": binding.stale_after_seconds,
        },
    )


async def _announce(uow: UnitOfWork, microgrid_id: UUID) -> None:
    revision = await uow.microgrids.bump_revision(microgrid_id)
    uow.notify(Change(microgrid_id, ChangeReason.BINDING, revision))
