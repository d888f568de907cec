"""Sensor actions (and controller bindings, which are actions) and stored packets."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, bindparam, insert, or_, select, update

from domain.access import EVERYWHERE, Scope
from domain.capability import CapabilityType
from domain.model import SensorAction, SensorActionType
from domain.packet_records import ActionOutcome, Outcome, PacketRecord
from domain.plausible.json_values import readable_json
from domain.ports import PacketEquipment
from persistence import tables as t
from persistence.repositories import (
    SqlEquipment,
    _chunks,
    _circuit,
    _Repository,
    in_scope,
)


def action_from_row(row: Mapping[Any, Any]) -> SensorAction:
    """A ``sensor_actions`` row (SQLAlchemy's ``row._mapping`` or an asyncpg record)."""
    values = dict(row)
    values["type"] = SensorActionType(values["type"])
    if values["capabilities"] is not None:
        values["capabilities"] = [CapabilityType(c) for c in values["capabilities"]]
    return SensorAction(**values)


def _action_row(action: SensorAction) -> dict[str, Any]:
    values = asdict(action)
    values["type"] = action.type.value
    values["capabilities"] = (
        [c.value for c in action.capabilities] if action.capabilities is not None else None
    )
    return values


_BINDINGS_FOR = select(t.sensor_actions).where(
    t.sensor_actions.c.microgrid_id.in_(bindparam("ids", expanding=True)),
    t.sensor_actions.c.type == SensorActionType.UPDATE_MICROGRID_STATE.value,
)


RECORD_LAST_REPORTED = (
    update(t.sensor_actions)
    .where(t.sensor_actions.c.id == bindparam("row_id"))
    .values(last_reported_at=bindparam("last_reported_at"))
)


class SqlSensorActions(_Repository):
    async def record_last_reported(self, actions: Sequence[SensorAction]) -> None:
        if actions:
            await self._conn.execute(
                RECORD_LAST_REPORTED,
                [{"row_id": a.id, "last_reported_at": a.last_reported_at} for a in actions],
            )

    async def add(self, action: SensorAction) -> None:
        await self._conn.execute(insert(t.sensor_actions).values(**_action_row(action)))

    async def update(self, action: SensorAction) -> None:
        values = _action_row(action)
        del values["id"], values["created_at"]
        await self._conn.execute(
            update(t.sensor_actions).where(t.sensor_actions.c.id == action.id).values(**values)
        )

    async def get(self, action_id: UUID, scope: Scope = EVERYWHERE) -> SensorAction | None:
        """The action, if its device is in ``scope`` (zero rows otherwise, as if missing)."""
        statement = select(t.sensor_actions).where(t.sensor_actions.c.id == action_id)
        if scope.depot_ids is not None:
            statement = statement.join(
                t.devices, t.devices.c.id == t.sensor_actions.c.device_id
            ).where(in_scope(t.devices.c.depot_id, scope))
        row = (await self._conn.execute(statement)).first()
        return action_from_row(row._mapping) if row else None

    async def for_devices(self, device_ids: Collection[UUID]) -> dict[UUID, list[SensorAction]]:
        grouped: dict[UUID, list[SensorAction]] = {}
        for chunk in _chunks(device_ids):
            for row in await self._rows(
                select(t.sensor_actions).where(t.sensor_actions.c.device_id.in_(chunk))
            ):
                grouped.setdefault(row.device_id, []).append(action_from_row(row._mapping))
        return grouped

    async def bindings_for_microgrids(
        self, microgrid_ids: Collection[UUID]
    ) -> dict[UUID, list[SensorAction]]:
        grouped: dict[UUID, list[SensorAction]] = {}
        for chunk in _chunks(microgrid_ids):
            for row in (await self._conn.execute(_BINDINGS_FOR, {"ids": chunk})).all():
                grouped.setdefault(row.microgrid_id, []).append(action_from_row(row._mapping))
        return grouped


def outcome_json(outcome: ActionOutcome) -> dict[str, Any]:
    return {
        "sensorActionId": str(outcome.sensor_action_id) if outcome.sensor_action_id else None,
        "action": outcome.action.value,
        "outcome": outcome.outcome.value,
        "code": outcome.code,
        "message": outcome.message,
        "targetId": str(outcome.target_id) if outcome.target_id else None,
        "measurands": list(outcome.measurands),
    }


def _outcome(data: dict[str, Any]) -> ActionOutcome:
    return ActionOutcome(
        sensor_action_id=UUID(data["sensorActionId"]) if data["sensorActionId"] else None,
        action=SensorActionType(data["action"]),
        outcome=Outcome(data["outcome"]),
        code=data["code"],
        message=data["message"],
        target_id=UUID(data["targetId"]) if data["targetId"] else None,
        measurands=tuple(data["measurands"]),
    )


def packet_row(record: PacketRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "device_id": record.device_id,
        "observed_at": record.observed_at,
        "received_at": record.received_at,
        "packet": record.packet,
        "outcomes": [outcome_json(o) for o in record.outcomes],
    }


RECENT = timedelta(days=1)
"""How far back a packet page first looks (one daily partition, or two)."""


class SqlPacketRecords(_Repository):
    async def add(self, record: PacketRecord) -> None:
        await self._conn.execute(insert(t.sensor_packets).values(**packet_row(record)))

    async def add_all(self, records: Sequence[PacketRecord]) -> None:
        if records:
            await self._conn.execute(insert(t.sensor_packets), [packet_row(r) for r in records])

    async def page(
        self, device_id: UUID, first: int, before: tuple[datetime, UUID] | None
    ) -> list[PacketRecord]:
        """Newest first. The newest day before the cursor (or now) is read on its
        own first, so PostgreSQL plans and scans one or two daily partitions
        for a device that reports often; only a short page reads further back,
        from where that day ends."""
        anchor = before[0] if before is not None else datetime.now(UTC)
        since = anchor - RECENT
        rows = list(await self._rows(self._page_statement(device_id, first, before, since=since)))
        if len(rows) < first:
            older = self._page_statement(device_id, first - len(rows), None, until=since)
            rows += await self._rows(older)
        return [
            PacketRecord(
                id=r.id,
                device_id=r.device_id,
                observed_at=r.observed_at,
                received_at=r.received_at,
                packet=readable_json(r.packet),
                outcomes=tuple(_outcome(o) for o in r.outcomes),
            )
            for r in rows
        ]

    @staticmethod
    def _page_statement(
        device_id: UUID,
        first: int,
        before: tuple[datetime, UUID] | None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Select[Any]:
        c = t.sensor_packets.c
        statement = (
            select(t.sensor_packets)
            .where(c.device_id == device_id)
            .order_by(c.received_at.desc(), c.id.desc())
            .limit(first)
        )
        if since is not None:
            statement = statement.where(c.received_at >= since)
        if until is not None:
            statement = statement.where(c.received_at < until)
        if before is not None:
            at, packet_id = before
            statement = statement.where(
                or_(c.received_at < at, and_(c.received_at == at, c.id < packet_id))
            )
        return statement


class SqlPacketFacts(_Repository):
    """A packet's lookups through the repositories, one statement per table."""

    async def load(self, device_ids: Collection[UUID], scope: Scope) -> PacketEquipment:
        equipment = SqlEquipment(self._conn)
        devices = await equipment.devices_by_id(device_ids, scope) if device_ids else {}
        if not devices:
            return PacketEquipment({}, {}, {}, {}, {})
        actions = await SqlSensorActions(self._conn).for_devices(list(devices))
        depots = {d.depot_id for d in devices.values()}
        sources = await equipment.power_sources(depots)
        gateway_ids = {d.gateway_id for d in devices.values() if d.gateway_id is not None}
        gateways = await equipment.gateways_where(t.gateways.c.id.in_(gateway_ids))
        circuit_ids = {d.circuit_id for d in devices.values() if d.circuit_id is not None}
        found = [
            _circuit(r)
            for r in await self._rows(select(t.circuits).where(t.circuits.c.id.in_(circuit_ids)))
        ]
        return PacketEquipment(
            devices,
            {d: actions.get(d, []) for d in devices},
            {d: sources.get(d, []) for d in depots},
            {g.id: g for g in gateways},
            {c.id: c for c in found},
        )
