"""Recording a capability status: append to the event store, update the
latest-status projection, all in one transaction; idempotent per provider ref.
Sensor packets reach the same path through :func:`append_observation`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domain.access import Scope
from domain.capability import (
    Observation,
    StatusEvent,
    StatusView,
    supersedes,
    view,
)
from domain.changes import Change, ChangeReason
from domain.plausible.instants import check_instant
from domain.plausible.text import PROVIDER_EVENT_REF, check_text
from domain.ports import Dependencies, UnitOfWork
from domain.problems import Conflict, FieldError, NotFound, ValidationFailed
from domain.stale_thresholds import stale_after_for


@dataclass(frozen=True)
class StatusRecorded:
    event: StatusEvent
    latest: StatusView
    duplicate: bool


REF_REUSED = Conflict(
    "PROVIDER_EVENT_REF_REUSED",
    "This providerEventRef was already recorded with different content; a retry must "
    "resend exactly the same observation.",
)


async def record_capability_status(
    deps: Dependencies, scope: Scope, observation: Observation
) -> StatusRecorded | NotFound | ValidationFailed | Conflict:
    now = deps.clock.now()
    checked = _validate(observation, now)
    if not isinstance(checked, Observation):
        return ValidationFailed(field_errors=checked)
    observation = checked
    async with deps.uow() as uow:
        depot_id = await uow.microgrids.depot_of(observation.microgrid_id, scope)
        if depot_id is None:
            return NotFound("Microgrid", str(observation.microgrid_id))
        if observation.source_device_id is not None:
            device = await uow.equipment.device(observation.source_device_id, Scope.only(depot_id))
            if device is None:
                return ValidationFailed(
                    field_errors=(
                        FieldError(
                            "input.sourceDeviceId",
                            "DEVICE_NOT_IN_DEPOT",
                            "The source device is not in this microgrid's depot.",
                        ),
                    )
                )
        result = await append_observation(uow, deps, observation, now)
        if isinstance(result, StatusRecorded) and not result.duplicate:
            await uow.commit()
    return result


async def append_observation(
    uow: UnitOfWork, deps: Dependencies, observation: Observation, now: datetime
) -> StatusRecorded | Conflict:
    """Append inside the caller's transaction (the caller commits). A retry
    returns the original event and writes nothing."""
    microgrid_id = observation.microgrid_id
    sequence = await uow.events.reserve_sequence(microgrid_id)
    earlier = await uow.events.find(microgrid_id, observation.idempotency_key)
    current = (await uow.latest.for_microgrids([microgrid_id])).get(microgrid_id, {})
    stale_after = await stale_after_for(uow, deps, microgrid_id, observation.capability)
    if earlier is not None:
        if not earlier.observation.same_content(observation):
            return REF_REUSED
        latest = current.get(observation.capability, earlier)
        return StatusRecorded(
            earlier, view(observation.capability, latest, now, stale_after), duplicate=True
        )
    event = StatusEvent(
        id=deps.new_id(),
        observation=observation,
        received_at=now,
        sequence=sequence,
        applied_to_latest=False,
    )
    applied = supersedes(event, current.get(observation.capability))
    event = StatusEvent(event.id, observation, now, sequence, applied)
    await uow.events.append(event)
    if applied:
        await uow.latest.put(event)
    revision = await uow.microgrids.bump_revision(microgrid_id)
    uow.notify(Change(microgrid_id, ChangeReason.CAPABILITY_STATUS, revision, event.id))
    latest = event if applied else current[observation.capability]
    return StatusRecorded(
        event, view(observation.capability, latest, now, stale_after), duplicate=False
    )


def _validate(observation: Observation, now: datetime) -> Observation | tuple[FieldError, ...]:
    """The observation with ``observedAt`` in UTC, or every field error."""
    errors: list[FieldError] = []
    ref = check_text(observation.provider_event_ref, "input.providerEventRef", PROVIDER_EVENT_REF)
    if isinstance(ref, FieldError):
        errors.append(ref)
    observed = check_instant(observation.observed_at, now, "input.observedAt")
    if isinstance(observed, FieldError):
        errors.append(observed)
    if errors or isinstance(observed, FieldError):
        return tuple(errors)
    return replace(observation, observed_at=observed)
