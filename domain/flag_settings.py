"""Reading feature flags as they apply, and admins' settings of them (audited)."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from domain.access import Scope
from domain.audit import AuditEntry
from domain.feature_flags import FlagEvaluation, known_flag, unknown_key_error
from domain.ports import Dependencies, FlagEvaluator
from domain.problems import FieldError, NotFound, ValidationFailed


def _evaluator(deps: Dependencies) -> FlagEvaluator:
    if deps.flags is None:
        raise RuntimeError("no feature-flag evaluator is wired into these dependencies")
    return deps.flags


async def global_flags(deps: Dependencies) -> list[FlagEvaluation]:
    """Every known flag's global value (anyone who may read sees these)."""
    return (await _evaluator(deps).evaluate([None]))[None]


async def depot_flags(
    deps: Dependencies, scope: Scope, depot_id: UUID | None
) -> list[FlagEvaluation]:
    """Every known flag for the depot; none for a depot that is missing or out of
    scope (the same statement either way), as list fields answer elsewhere."""
    if depot_id is None:
        return []
    async with deps.uow(write=False) as uow:
        depot = await uow.depots.get(depot_id)
    if depot is None or not scope.allows(depot_id):
        return []
    return (await _evaluator(deps).evaluate([depot_id]))[depot_id]


async def flags_of_depots(
    deps: Dependencies, depot_ids: Collection[UUID]
) -> dict[UUID, list[FlagEvaluation]]:
    """For depots the reader already sees (a depot page): one evaluation for all."""
    found = await _evaluator(deps).evaluate(list(depot_ids))
    return {i: found[i] for i in depot_ids}


async def set_global_flag(
    deps: Dependencies, scope: Scope, key: str, enabled: bool | None
) -> FlagEvaluation | NotFound | ValidationFailed:
    """Set (or with None clear) the flag's global value."""
    errors = _key_errors(key)
    if scope.depot_ids is not None:
        errors.append(
            FieldError(
                "input.depotId",
                "FORBIDDEN_FOR_SCOPED_TOKEN",
                "A depot-scoped token can set flags for its depots only, not globally.",
            )
        )
    if errors:
        return ValidationFailed(field_errors=tuple(errors))
    return await _set(deps, key, None, enabled, scope)


async def set_depot_flag(
    deps: Dependencies, scope: Scope, key: str, enabled: bool | None, depot_id: UUID | None
) -> FlagEvaluation | NotFound | ValidationFailed:
    """Set (or with None clear) the flag for one depot. ``depot_id`` None is an id
    that could not be read: as missing."""
    errors = _key_errors(key)
    if errors:
        return ValidationFailed(field_errors=tuple(errors))
    if depot_id is None:
        return NotFound("Depot", None)
    return await _set(deps, key, depot_id, enabled, scope)


def _key_errors(key: str) -> list[FieldError]:
    return [] if known_flag(key) else [unknown_key_error()]


async def _set(
    deps: Dependencies, key: str, depot_id: UUID | None, enabled: bool | None, scope: Scope
) -> FlagEvaluation | NotFound:
    async with deps.uow() as uow:
        if depot_id is not None:
            depot = await uow.depots.get(depot_id)
            if depot is None or not scope.allows(depot_id):  # the same statement either way
                return NotFound("Depot", str(depot_id))
        previous = await uow.flags.get_for_update(key, depot_id)
        now = deps.clock.now()  # once the setting is ours: the trail's order is the sets'
        if enabled is None:
            await uow.flags.remove(key, depot_id)
        else:
            await uow.flags.put(key, depot_id, enabled, now)
        uow.audit(
            AuditEntry(
                "setFeatureFlag",
                now,
                None,
                depot_id,
                {
                    "key": key,
                    "scope": "depot" if depot_id else "global",
                    "enabled": enabled,
                    "previous": previous.enabled if previous else None,
                },
            )
        )
        await uow.commit()
    found = (await _evaluator(deps).evaluate([depot_id]))[depot_id]
    return next(e for e in found if e.flag.key == key)
