"""Capability status ingest and the Microgrid card query."""

from __future__ import annotations

import strawberry

from domain.capability import CapabilityType, Observation
from domain.card import card_for_depot
from domain.problems import NotFound, ValidationFailed, invalid
from domain.status_ingest import StatusRecorded, record_capability_status
from resolvers.ids import parse_id
from schema import inputs
from schema import results as r
from schema.problems import to_problem
from schema.types import CapabilityStatus, CapabilityStatusEvent, Ctx, MicrogridCard


async def record_status(
    info: Ctx, input: inputs.RecordCapabilityStatusInput
) -> r.RecordCapabilityStatusResult:
    ctx = info.context
    microgrid_id = parse_id(input.microgrid_id)
    if microgrid_id is None:
        return to_problem(NotFound("Microgrid", str(input.microgrid_id)))
    source = parse_id(input.source_device_id)
    if input.source_device_id is not None and source is None:
        return to_problem(
            invalid(
                "input.sourceDeviceId",
                "DEVICE_NOT_IN_DEPOT",
                "The source device is not in this microgrid's depot.",
            )
        )
    result = await record_capability_status(
        ctx.deps,
        ctx.require_principal().scope,
        Observation(
            microgrid_id=microgrid_id,
            capability=CapabilityType(input.capability.value),
            value=input.value,
            observed_at=input.observed_at,
            provider_event_ref=input.provider_event_ref,
            source_device_id=source,
        ),
    )
    if isinstance(result, StatusRecorded):
        return r.CapabilityStatusRecorded(
            event=CapabilityStatusEvent.of(result.event),
            latest=CapabilityStatus.of(result.latest),
            duplicate=result.duplicate,
        )
    return to_problem(result)


async def microgrid_card(info: Ctx, depot_id: strawberry.ID) -> r.MicrogridCardResult:
    ctx = info.context
    card = await card_for_depot(ctx.deps, ctx.require_principal().scope, parse_id(depot_id))
    if isinstance(card, NotFound | ValidationFailed):
        return to_problem(card)
    return MicrogridCard.of(card)
