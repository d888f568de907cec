"""Registering a depot's power sources, gateways and devices."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.access import Scope
from domain.audit import AuditEntry
from domain.circuit_tree import validate_name
from domain.model import Circuit, Device, Gateway, PowerSource, PowerSourceKind
from domain.plausible.json_values import check_json
from domain.plausible.text import MODEL_NAME, check_text
from domain.ports import Dependencies, UnitOfWork
from domain.problems import FieldError, NotFound, ValidationFailed, collect


@dataclass(frozen=True)
class NewPowerSource:
    depot_id: UUID | None
    kind: PowerSourceKind
    name: str
    circuit_id: UUID | None = None


@dataclass(frozen=True)
class NewGateway:
    depot_id: UUID | None
    name: str
    site_model_name: str | None = None
    output_translation: dict[str, object] | None = None


@dataclass(frozen=True)
class NewDevice:
    depot_id: UUID | None
    name: str
    gateway_id: UUID | None = None
    circuit_id: UUID | None = None


async def create_power_source(
    deps: Dependencies, scope: Scope, cmd: NewPowerSource
) -> PowerSource | NotFound | ValidationFailed:
    async with deps.uow() as uow:
        problem = await _check_depot(uow, scope, cmd.depot_id)
        if problem:
            return problem
        assert cmd.depot_id is not None
        errors = collect(
            validate_name(cmd.name), await _check_circuit(uow, cmd.depot_id, cmd.circuit_id)
        )
        if errors:
            return ValidationFailed(field_errors=errors)
        source = PowerSource(
            id=deps.new_id(),
            depot_id=cmd.depot_id,
            kind=cmd.kind,
            name=cmd.name.strip(),
            circuit_id=cmd.circuit_id,
            created_at=deps.clock.now(),
        )
        await uow.equipment.add_power_source(source)
        uow.audit(
            AuditEntry(
                "createPowerSource",
                source.created_at,
                source.id,
                source.depot_id,
                {"name": source.name, "kind": source.kind.value},
            )
        )
        await uow.commit()
    return source


async def create_gateway(
    deps: Dependencies, scope: Scope, cmd: NewGateway
) -> Gateway | NotFound | ValidationFailed:
    async with deps.uow() as uow:
        problem = await _check_depot(uow, scope, cmd.depot_id)
        if problem:
            return problem
        assert cmd.depot_id is not None
        errors = collect(validate_name(cmd.name)) + _gateway_details(cmd)
        if errors:
            return ValidationFailed(field_errors=errors)
        gateway = Gateway(
            id=deps.new_id(),
            depot_id=cmd.depot_id,
            name=cmd.name.strip(),
            site_model_name=cmd.site_model_name,
            output_translation=cmd.output_translation,
            created_at=deps.clock.now(),
        )
        await uow.equipment.add_gateway(gateway)
        uow.audit(
            AuditEntry(
                "createGateway",
                gateway.created_at,
                gateway.id,
                gateway.depot_id,
                {"name": gateway.name, "siteModelName": gateway.site_model_name},
            )
        )
        await uow.commit()
    return gateway


async def create_device(
    deps: Dependencies, scope: Scope, cmd: NewDevice
) -> Device | NotFound | ValidationFailed:
    async with deps.uow() as uow:
        problem = await _check_depot(uow, scope, cmd.depot_id)
        if problem:
            return problem
        assert cmd.depot_id is not None
        errors = collect(
            validate_name(cmd.name), await _check_circuit(uow, cmd.depot_id, cmd.circuit_id)
        )
        if cmd.gateway_id is not None:
            gateway = await uow.equipment.gateway(cmd.gateway_id, Scope.only(cmd.depot_id))
            if gateway is None:
                errors += (
                    FieldError(
                        "input.gatewayId",
                        "GATEWAY_NOT_IN_DEPOT",
                        "The gateway is not in this depot.",
                    ),
                )
        if errors:
            return ValidationFailed(field_errors=errors)
        device = Device(
            id=deps.new_id(),
            depot_id=cmd.depot_id,
            name=cmd.name.strip(),
            gateway_id=cmd.gateway_id,
            circuit_id=cmd.circuit_id,
            created_at=deps.clock.now(),
        )
        await uow.equipment.add_device(device)
        uow.audit(
            AuditEntry(
                "createDevice", device.created_at, device.id, device.depot_id, {"name": device.name}
            )
        )
        await uow.commit()
    return device


def _gateway_details(cmd: NewGateway) -> tuple[FieldError, ...]:
    errors: list[FieldError] = []
    if cmd.site_model_name is not None:
        checked = check_text(cmd.site_model_name, "input.siteModelName", MODEL_NAME)
        if isinstance(checked, FieldError):
            errors.append(checked)
    if cmd.output_translation is not None:
        if not isinstance(cmd.output_translation, dict):
            errors.append(
                FieldError(
                    "input.outputTranslation",
                    "NOT_AN_OBJECT",
                    "outputTranslation must be a JSON object.",
                )
            )
        else:
            errors.extend(check_json(cmd.output_translation, "input.outputTranslation"))
    return tuple(errors)


async def _check_depot(uow: UnitOfWork, scope: Scope, depot_id: UUID | None) -> NotFound | None:
    if depot_id is None or not scope.allows(depot_id) or await uow.depots.get(depot_id) is None:
        return NotFound("Depot", str(depot_id) if depot_id else None)
    return None


async def _check_circuit(
    uow: UnitOfWork, depot_id: UUID, circuit_id: UUID | None
) -> ValidationFailed | None:
    if circuit_id is None:
        return None
    circuit: Circuit | None = await uow.circuits.get(circuit_id, Scope.only(depot_id))
    if circuit is None:
        return ValidationFailed(
            field_errors=(
                FieldError(
                    "input.circuitId", "CIRCUIT_NOT_IN_DEPOT", "The circuit is not in this depot."
                ),
            )
        )
    return None
