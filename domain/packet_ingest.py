"""Taking in generic sensor packets: validate each whole, run each configured
sensor action once per packet, keep every packet with its outcomes.

One packet (``ingestSensorPacket``) or a gateway's buffer of them
(``ingestSensorPackets``) take the same path: a batch, in one transaction
(domain/packet_batch.py). Each packet is refused or accepted on its own, and a
refused one writes nothing: it is refused before any write, either by the
contract (checked first, on every packet) or because its device is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.access import Scope
from domain.packet_batch import PacketBatch
from domain.packet_records import PacketRecord
from domain.packets import Packet, parse_packet
from domain.ports import Dependencies
from domain.problems import FieldError, NotFound, ValidationFailed

MAX_PACKETS = 100
"""Packets per ``ingestSensorPackets`` request (a gateway's buffer)."""


@dataclass(frozen=True)
class PacketIngested:
    record: PacketRecord


PacketResult = PacketIngested | NotFound | ValidationFailed


@dataclass(frozen=True)
class PacketsIngested:
    results: tuple[PacketResult, ...]
    """One per packet, in the order sent."""

    @property
    def accepted(self) -> int:
        return sum(isinstance(r, PacketIngested) for r in self.results)

    @property
    def refused(self) -> int:
        return len(self.results) - self.accepted


async def ingest_packet(deps: Dependencies, scope: Scope, raw: object) -> PacketResult:
    ingested = await ingest_packets(deps, scope, [raw])
    assert isinstance(ingested, PacketsIngested)
    return ingested.results[0]


async def ingest_packets(
    deps: Dependencies, scope: Scope, raws: Sequence[object]
) -> PacketsIngested | ValidationFailed:
    """Each packet as :func:`ingest_packet` would take it, applied in timestamp
    order (ties: the order sent), so a packet older than one sent after it in
    the same request meets the older-than-current rule as it would alone;
    committed together, with one change notice per microgrid."""
    if len(raws) > MAX_PACKETS:
        return ValidationFailed(
            field_errors=(
                FieldError(
                    "packets",
                    "TOO_MANY_PACKETS",
                    f"At most {MAX_PACKETS} packets per request; this one has {len(raws)}.",
                ),
            ),
            message="Nothing was applied.",
        )
    now = deps.clock.now()
    results: list[PacketResult | None] = [None] * len(raws)
    valid: list[tuple[int, Packet]] = []
    for i, raw in enumerate(raws):
        parsed = parse_packet(raw, now)
        if isinstance(parsed, Packet):
            valid.append((i, parsed))
        else:
            results[i] = ValidationFailed(
                field_errors=parsed,
                message="The packet breaks the contract; nothing of it was applied.",
            )
    if valid:
        async with deps.uow() as uow:
            batch = await PacketBatch.load(uow, deps, scope, now, [p for _, p in valid])
            for i, packet in sorted(valid, key=lambda v: v[1].timestamp_ms):
                record = await batch.ingest(packet)
                results[i] = (
                    NotFound("Device", str(packet.device_id))
                    if record is None
                    else PacketIngested(record)
                )
            if batch.records:
                await batch.flush()
                await uow.commit()
    return PacketsIngested(tuple(r for r in results if r is not None))
