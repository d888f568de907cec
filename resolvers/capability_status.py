"""Capability status: recording an observation, a microgrid's statuses and
their history."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain import reads
from domain.capability import CapabilityType, Observation, StatusView
from domain.problems import Conflict, NotFound, ValidationFailed, invalid
from domain.status_ingest import StatusRecorded, record_capability_status
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def record_status(
    ctx: RequestContext,
    microgrid_id: str,
    capability: CapabilityType,
    value: bool,
    observed_at: datetime,
    provider_event_ref: str,
    source_device_id: str | None = None,
) -> StatusRecorded | NotFound | ValidationFailed | Conflict:
    microgrid = parse_id(microgrid_id)
    if microgrid is None:
        return NotFound("Microgrid", str(microgrid_id))
    source = parse_id(source_device_id)
    if source_device_id is not None and source is None:
        return invalid(
            "input.sourceDeviceId",
            "DEVICE_NOT_IN_DEPOT",
            "The source device is not in this microgrid's depot.",
        )
    return await record_capability_status(
        ctx.deps,
        ctx.require_principal().scope,
        Observation(
            microgrid_id=microgrid,
            capability=capability,
            value=value,
            observed_at=observed_at,
            provider_event_ref=provider_event_ref,
            source_device_id=source,
        ),
    )


async def statuses(ctx: RequestContext, microgrid_id: UUID) -> list[StatusView]:
    """One per capability type, always present, in the enum's order."""
    latest = await ctx.loaders.latest.load(microgrid_id)
    bindings = await ctx.loaders.bindings.load(microgrid_id)
    return reads.status_views(ctx.deps, latest, bindings)


async def history(
    ctx: RequestContext,
    microgrid_id: UUID,
    capability: CapabilityType | None,
    first: int,
    after: str | None,
) -> reads.HistoryPage:
    """Newest first; ``first`` is capped at 100."""
    return await ctx.loaders.history.load((microgrid_id, capability, first, after))
