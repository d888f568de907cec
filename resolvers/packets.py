"""Sensor packets: ingest, and the packets a device sent with their outcomes."""

from __future__ import annotations

from collections.abc import Sequence

from domain import reads
from domain.packet_ingest import PacketIngested, PacketsIngested, ingest_packet, ingest_packets
from domain.problems import NotFound, ValidationFailed
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
    return await ingest_packet(ctx.deps, ctx.require_principal().scope, packet)


async def ingest_sensor_packets(
    ctx: RequestContext, packets: Sequence[object]
) -> PacketsIngested | ValidationFailed:
    return await ingest_packets(ctx.deps, ctx.require_principal().scope, packets)
