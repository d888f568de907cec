"""Sensor packets as stored, with the outcome of each sensor action."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from domain import reads
from domain.packet_ingest import PacketIngested
from domain.packet_records import ActionOutcome, PacketRecord
from schema.common import PageInfo, gid, gid_or_none
from schema.enums import Outcome, SensorActionType


@strawberry.type
class SensorActionOutcome:
    sensor_action_id: strawberry.ID | None
    action: SensorActionType
    outcome: Outcome
    code: str = strawberry.field(
        description="APPLIED, MEASURAND_ABSENT, NO_POWER_SOURCE, AMBIGUOUS_POWER_SOURCE, ..."
    )
    message: str
    target_id: strawberry.ID | None = strawberry.field(
        description="The microgrid, power source or circuit that the action wrote to."
    )
    measurands: list[str]

    @classmethod
    def from_domain(cls, o: ActionOutcome) -> SensorActionOutcome:
        return cls(
            sensor_action_id=gid_or_none(o.sensor_action_id),
            action=o.action,
            outcome=o.outcome,
            code=o.code,
            message=o.message,
            target_id=gid_or_none(o.target_id),
            measurands=list(o.measurands),
        )


@strawberry.type
class SensorPacketIngested:
    packet_id: strawberry.ID
    device_id: strawberry.ID
    received_at: datetime
    outcomes: list[SensorActionOutcome]

    @classmethod
    def from_domain(cls, ingested: PacketIngested) -> SensorPacketIngested:
        record = ingested.record
        return cls(
            packet_id=gid(record.id),
            device_id=gid(record.device_id),
            received_at=record.received_at,
            outcomes=[SensorActionOutcome.from_domain(o) for o in record.outcomes],
        )


@strawberry.type
class SensorPacketRecord:
    id: strawberry.ID
    device_id: strawberry.ID
    observed_at: datetime = strawberry.field(description="The packet timestamp.")
    received_at: datetime
    packet: JSON
    outcomes: list[SensorActionOutcome]

    @classmethod
    def from_domain(cls, r: PacketRecord) -> SensorPacketRecord:
        return cls(
            id=gid(r.id),
            device_id=gid(r.device_id),
            observed_at=r.observed_at,
            received_at=r.received_at,
            packet=cast(JSON, r.packet),
            outcomes=[SensorActionOutcome.from_domain(o) for o in r.outcomes],
        )


@strawberry.type
class SensorPacketEdge:
    cursor: str
    node: SensorPacketRecord


@strawberry.type
class SensorPacketConnection:
    edges: list[SensorPacketEdge]
    page_info: PageInfo
    retained_since: datetime = strawberry.field(
        description="How far back the packets go: every packet received since this "
        "instant is kept; older ones may have been removed by retention "
        "(PACKET_RETENTION_DAYS, a whole day at a time)."
    )

    @classmethod
    def from_domain(cls, page: reads.PacketPage) -> SensorPacketConnection:
        edges = [
            SensorPacketEdge(
                cursor=reads.encode_packet_cursor(p), node=SensorPacketRecord.from_domain(p)
            )
            for p in page.records
        ]
        return cls(
            edges=edges,
            page_info=PageInfo.of_edges(edges, page.has_next_page),
            retained_since=page.retained_since,
        )
