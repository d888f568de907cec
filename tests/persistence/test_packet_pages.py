"""A device's stored packets page newest first, every packet once, whichever
day it arrived on: the page reads the newest day on its own first and only
then further back, and the two reads must join without a gap or a repeat
(ties on the arrival instant broken by id, a packet stamped in the future,
one older than every partition)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from app.ids import time_ordered_id
from domain.access import EVERYWHERE
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewDevice, create_device
from domain.packet_records import PacketRecord
from domain.ports import Dependencies

NOW = datetime.now(UTC)
ARRIVALS = [
    NOW + timedelta(hours=2),
    NOW - timedelta(minutes=1),
    NOW - timedelta(minutes=1),
    NOW - timedelta(minutes=1),
    NOW - timedelta(hours=23, minutes=59),
    NOW - timedelta(days=1),
    NOW - timedelta(days=1, seconds=1),
    NOW - timedelta(days=1, seconds=1),
    NOW - timedelta(days=3),
    NOW - timedelta(days=40),
    datetime(2001, 1, 1, tzinfo=UTC),
]


async def _stored(deps: Dependencies) -> tuple[UUID, list[tuple[datetime, UUID]]]:
    created = await create_depot(deps, EVERYWHERE, "P", [NewCircuit("F", 1.0)])
    device = await create_device(deps, EVERYWHERE, NewDevice(created.depot.id, "d"))
    keys = [(at, time_ordered_id(int(at.timestamp() * 1000))) for at in ARRIVALS]
    async with deps.uow() as uow:
        for at, packet_id in keys:
            await uow.packets.add(PacketRecord(packet_id, device.id, at, at, {"n": 1}, ()))
        await uow.commit()
    return device.id, sorted(keys, reverse=True)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 11, 12])
async def test_pages_walk_every_packet_once_newest_first(deps: Dependencies, size: int) -> None:
    device, expected = await _stored(deps)
    seen: list[tuple[datetime, UUID]] = []
    before = None
    async with deps.uow() as uow:
        while True:
            page = await uow.packets.page(device, size, before)
            seen += [(p.received_at, p.id) for p in page]
            if len(page) < size:
                break
            before = seen[-1]
    assert seen == expected


async def test_a_cursor_in_the_past_reads_from_there(deps: Dependencies) -> None:
    device, expected = await _stored(deps)
    async with deps.uow() as uow:
        page = await uow.packets.page(device, 3, expected[5])
    assert [(p.received_at, p.id) for p in page] == expected[6:9]
