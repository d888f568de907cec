"""Sensor packets: ingest, and the packets a device sent with their outcomes."""

from __future__ import annotations

from collections.abc import Sequence

from domain import reads
from domain.packet_ingest import (
    MAX_PACKETS,
    PacketIngested,
    PacketsIngested,
    ingest_packet,
    ingest_packets,
)
from domain.problems import FieldError, NotFound, ValidationFailed
from resolvers.context import RequestContext
from resolvers.ids import parse_id


async def sensor_packets(
    ctx: RequestContext, device_id: str, first: int, after: str | None
) -> reads.PacketPage:
    return await reads.sensor_packets(
        ctx.deps, ctx.require_principal().scope, parse_id(device_id), first, after
    )


async def ingest_sensor_packet(
    ctx: RequestContext, packet: object
) -> PacketIngested | NotFound | ValidationFailed:
    refused = _over_the_request_cap(ctx, 1, "packet")
    if refused is not None:
        return refused
    return await ingest_packet(ctx.deps, ctx.require_principal().scope, packet)


async def ingest_sensor_packets(
    ctx: RequestContext, packets: Sequence[object]
) -> PacketsIngested | ValidationFailed:
    refused = _over_the_request_cap(ctx, len(packets), "packets")
    if refused is not None:
        return refused
    return await ingest_packets(ctx.deps, ctx.require_principal().scope, packets)


def _over_the_request_cap(ctx: RequestContext, count: int, field: str) -> ValidationFailed | None:
    """Aliased ingest fields share one request's ``MAX_PACKETS`` (one field
    over it alone is the use case's own refusal)."""
    ctx.packets_taken += count
    if count > MAX_PACKETS or ctx.packets_taken <= MAX_PACKETS:
        return None
    return ValidationFailed(
        field_errors=(
            FieldError(
                field,
                "TOO_MANY_PACKETS",
                f"At most {MAX_PACKETS} packets per request, across all its fields;"
                f" this one reaches {ctx.packets_taken}.",
            ),
        ),
        message="Nothing was applied by this field.",
    )
