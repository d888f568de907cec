"""Packets ingested through the real app leave their load-chart readings and
capacity reports in the database, in the packet's transaction, on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import select

from domain.readings import CapacityReport, CapacityRun, ReadingKind
from persistence import tables as t
from persistence.partitions import epoch_us
from tests.api.test_sensor_api import CONFIGURE, INGEST, _packet, _site

K = ReadingKind


def _instant(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


async def test_ingested_packets_write_readings_and_capacity_reports(
    admin, integration, container, clock
):
    depot, device_id, bess, feeder = await _site(admin)
    depot_id = UUID(depot["depot"]["id"])
    for action_type in (
        "UPDATE_POWER_SOURCE_STATE",
        "UPDATE_POWER_SOURCE_LOAD",
        "UPDATE_CIRCUIT_CAPACITY",
    ):
        await admin.execute(CONFIGURE, {"input": {"deviceId": device_id, "type": action_type}})
    ts = int(clock.current.timestamp() * 1000)
    sent = [
        (
            ts,
            ("SOC", 40),
            ("TOTAL_POWER_LOAD", 1200),
            ("AVAILABLE_CHARGING_CAPACITY", 5e4),
            ("HEARTBEAT_STATUS", "ok"),
            ("FAIL_SAFE_CAPACITY", 2e4),
        ),
        (
            ts + 10_000,
            ("TOTAL_POWER_LOAD", None),
            ("AVAILABLE_CHARGING_CAPACITY", 6e4),
            ("HEARTBEAT_STATUS", "connection_lost"),
        ),
        (ts + 5_000, ("SOC", 41), ("TOTAL_POWER_LOAD", 900)),  # older than current: skipped
    ]
    for at, *measurands in sent:
        result = await integration.execute(INGEST, {"packet": _packet(device_id, at, *measurands)})
        assert result["ingestSensorPacket"]["__typename"] == "SensorPacketIngested"

    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.readings)
                .where(t.readings.c.depot_id == depot_id)
                .order_by(t.readings.c.seq)
            )
        ).all()
    async with container.deps.uow(write=False) as uow:
        buckets = await uow.readings.buckets(depot_id, _instant(ts), _instant(ts + 60_000), 60)
        runs = await uow.readings.capacity_runs(depot_id, _instant(ts), _instant(ts + 60_000), 300)

    first, second = _instant(ts), _instant(ts + 10_000)
    ok = CapacityReport(depot_id, UUID(feeder), first, 5e4, 2e4, "ok")
    lost = CapacityReport(depot_id, UUID(feeder), second, 6e4, 2e4, "connection_lost")
    assert runs == [CapacityRun(ok, ok), CapacityRun(lost, lost)]
    values = {(str(r.subject_id), r.observed_us): r for r in rows}
    assert values[(bess, epoch_us(first))].soc_percent == 40.0
    assert values[(bess, epoch_us(first))].load_w == 1200.0
    circuit_first, circuit_second = (
        values[(feeder, epoch_us(first))],
        values[(feeder, epoch_us(second))],
    )
    assert (circuit_first.available_w, circuit_first.fail_safe_w, circuit_first.effective_w) == (
        5e4,
        2e4,
        5e4,
    )
    assert (circuit_second.available_w, circuit_second.fail_safe_w, circuit_second.effective_w) == (
        6e4,
        2e4,
        2e4,
    )
    assert (bess, epoch_us(second)) not in values, "an unavailable load is a gap"
    assert len(rows) == 3, "one row per subject and packet; the older packet wrote nothing"
    series = {(str(b.subject_id), b.kind): (b.min, b.avg, b.max, b.last) for b in buckets}
    assert series == {
        (bess, K.POWER_SOURCE_LOAD_W): (1200.0, 1200.0, 1200.0, 1200.0),
        (bess, K.POWER_SOURCE_SOC_PERCENT): (40.0, 40.0, 40.0, 40.0),
        (feeder, K.CIRCUIT_AVAILABLE_CAPACITY_W): (5e4, 5.5e4, 6e4, 6e4),
        (feeder, K.CIRCUIT_FAIL_SAFE_CAPACITY_W): (2e4, 2e4, 2e4, 2e4),
        (feeder, K.CIRCUIT_EFFECTIVE_CAPACITY_W): (2e4, 3.5e4, 5e4, 2e4),
    }
