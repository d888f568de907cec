"""When each enabled controller binding's device last reported, for every
binding at once (one statement): what a silent-controller alert watches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.model import SensorActionType
from persistence import tables as t

_REPORTS = (
    select(
        t.devices.c.depot_id,
        t.sensor_actions.c.device_id,
        t.sensor_actions.c.last_reported_at,
        t.sensor_actions.c.created_at,
    )
    .join(t.devices, t.devices.c.id == t.sensor_actions.c.device_id)
    .where(
        t.sensor_actions.c.type == SensorActionType.UPDATE_MICROGRID_STATE.value,
        t.sensor_actions.c.enabled.is_(True),
    )
)


@dataclass(frozen=True)
class ControllerReport:
    depot_id: UUID
    device_id: UUID
    last_reported_at: datetime
    """The newest packet's timestamp, or when the binding was made if it never reported."""


async def controller_reports(
    engine: AsyncEngine, **execution_options: Any
) -> list[ControllerReport]:
    async with engine.connect() as conn:
        conn = await conn.execution_options(**execution_options)
        rows = await conn.execute(_REPORTS)
        return [
            ControllerReport(row.depot_id, row.device_id, row.last_reported_at or row.created_at)
            for row in rows
        ]
