"""loadChart over HTTP through the real ASGI app, on SQLite and PostgreSQL:
packets in, buckets out; empty buckets null; bucket edges; validation; a scoped
token answers like a missing depot; and the statement count is the same
whatever the range, the number of points or the readings stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import event

from domain.access import Role
from domain.readings import Reading, ReadingKind
from tests.api.helpers import new_depot
from tests.api.test_sensor_api import CONFIGURE, INGEST, SETUP_DEVICE, _packet
from tests.api.test_sensor_api import _site as sensor_site

CHART = """query ($d: ID!, $f: DateTime!, $t: DateTime!, $n: Int) {
  loadChart(depotId: $d, from: $f, to: $t, maxPoints: $n) { __typename
    ... on LoadChart { depotId from to bucketSeconds
      series { kind subjectId name unit points { at min avg max last } }
      capabilityIntervals { capability status freshness from to }
      capacitySourceIntervals { circuitId source from to } }
    ... on NotFound { code message resource id }
    ... on ValidationFailed { code fieldErrors { field code } } } }"""
DEFAULT_POINTS = CHART.replace(", $n: Int", "").replace(", maxPoints: $n", "")


async def _site(admin: Any) -> dict[str, Any]:
    """The sensor API tests' controller site, with the power-source actions on."""
    depot, device, bess, feeder = await sensor_site(admin)
    for action in ("UPDATE_POWER_SOURCE_STATE", "UPDATE_POWER_SOURCE_LOAD"):
        await admin.execute(CONFIGURE, {"input": {"deviceId": device, "type": action}})
    return {"depot": depot["depot"]["id"], "feeder": feeder, "bess": bess, "device": device}


def _vars(site: dict[str, Any], start: datetime, end: datetime, n: int | None = 10) -> dict:
    return {"d": site["depot"], "f": start.isoformat(), "t": end.isoformat(), "n": n}


def _series(chart: dict[str, Any], subject: str, kind: str) -> list[dict[str, Any]]:
    (found,) = [s for s in chart["series"] if (s["subjectId"], s["kind"]) == (subject, kind)]
    return list(found["points"])


async def test_packets_in_buckets_out_and_empty_buckets_null(admin, operator, integration, clock):
    site = await _site(admin)
    start = clock.current.replace(second=0, microsecond=0) - timedelta(minutes=10)
    sent = {0: 1000.0, 30: 3000.0, 59: 2000.0, 300: 500.0}  # seconds after start: load
    for offset, load in sent.items():
        ts = int((start + timedelta(seconds=offset)).timestamp() * 1000)
        packet = _packet(site["device"], ts, ("TOTAL_POWER_LOAD", load), ("SOC", offset / 10))
        result = await integration.execute(INGEST, {"packet": packet})
        assert result["ingestSensorPacket"]["__typename"] == "SensorPacketIngested", result
    chart = (await operator.execute(CHART, _vars(site, start, start + timedelta(minutes=10))))[
        "loadChart"
    ]
    assert chart["__typename"] == "LoadChart" and chart["bucketSeconds"] == 60
    assert [(s["name"], s["kind"], s["unit"]) for s in chart["series"]] == [
        ("BESS", "POWER_SOURCE_LOAD_W", "W"),
        ("BESS", "POWER_SOURCE_SOC_PERCENT", "%"),
        ("Feeder", "CIRCUIT_AVAILABLE_CAPACITY_W", "W"),
        ("Feeder", "CIRCUIT_FAIL_SAFE_CAPACITY_W", "W"),
        ("Feeder", "CIRCUIT_EFFECTIVE_CAPACITY_W", "W"),
    ]
    load = _series(chart, site["bess"], "POWER_SOURCE_LOAD_W")
    assert len(load) == 10
    assert [datetime.fromisoformat(p["at"]) for p in load] == [
        start + timedelta(minutes=i) for i in range(10)
    ]
    assert {k: load[0][k] for k in ("min", "avg", "max", "last")} == {
        "min": 1000.0,
        "avg": 2000.0,
        "max": 3000.0,
        "last": 2000.0,
    }
    assert load[5]["min"] == load[5]["last"] == 500.0
    empty = {"min": None, "avg": None, "max": None, "last": None}
    for i in (1, 2, 3, 4, 6, 7, 8, 9):
        assert {k: load[i][k] for k in empty} == empty, i
    soc = _series(chart, site["bess"], "POWER_SOURCE_SOC_PERCENT")
    assert (soc[0]["min"], soc[0]["max"], soc[0]["last"]) == (0.0, 5.9, 5.9)


async def _write(container: Any, site: dict[str, Any], *readings: tuple[datetime, float]) -> None:
    async with container.deps.uow() as uow:
        await uow.readings.add(
            [
                Reading(
                    UUID(site["depot"]),
                    UUID(site["bess"]),
                    ReadingKind.POWER_SOURCE_LOAD_W,
                    at,
                    v,
                )
                for at, v in readings
            ],
            [],
        )
        await uow.commit()


async def test_bucket_edges_belong_to_the_later_bucket_and_end_is_excluded(
    admin, operator, container
):
    site = await _site(admin)
    t0 = datetime(2025, 12, 31, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    await _write(
        container,
        site,
        (t0 - tick, 1.0),
        (t0, 2.0),
        (t0 + timedelta(seconds=300) - tick, 3.0),
        (t0 + timedelta(seconds=300), 4.0),
        (t0 + timedelta(hours=1) - tick, 5.0),
        (t0 + timedelta(hours=1), 6.0),
    )
    chart = (await operator.execute(CHART, _vars(site, t0, t0 + timedelta(hours=1), 12)))[
        "loadChart"
    ]
    assert chart["bucketSeconds"] == 300
    load = _series(chart, site["bess"], "POWER_SOURCE_LOAD_W")
    assert [(p["min"], p["max"], p["last"]) for p in load] == [
        (2.0, 3.0, 3.0),
        (4.0, 4.0, 4.0),
        *[(None, None, None)] * 9,
        (5.0, 5.0, 5.0),
    ]


async def test_the_newest_reading_is_last_and_ties_go_to_the_one_written_last(
    admin, operator, container
):
    site = await _site(admin)
    t0 = datetime(2025, 12, 31, tzinfo=UTC)
    await _write(
        container, site, (t0 + timedelta(seconds=5), 9.0), (t0 + timedelta(seconds=1), 1.0)
    )
    await _write(container, site, (t0 + timedelta(seconds=5), 7.0))
    chart = (await operator.execute(CHART, _vars(site, t0, t0 + timedelta(seconds=100))))[
        "loadChart"
    ]
    first = _series(chart, site["bess"], "POWER_SOURCE_LOAD_W")[0]
    assert (first["min"], first["max"], first["last"]) == (1.0, 9.0, 7.0)
    assert first["avg"] == pytest.approx(17 / 3)


async def test_max_points_defaults_to_1000(admin, operator):
    site = await _site(admin)
    t0 = datetime(2025, 12, 1, tzinfo=UTC)
    variables = _vars(site, t0, t0 + timedelta(days=7))
    del variables["n"]
    chart = (await operator.execute(DEFAULT_POINTS, variables))["loadChart"]
    assert chart["bucketSeconds"] == 900, "the narrowest clock width that fits 1,000 points"
    assert {len(s["points"]) for s in chart["series"]} == {672}


@pytest.mark.parametrize(
    ("span", "points", "errors"),
    [
        (timedelta(0), 10, {("to", "NOT_AFTER_FROM")}),
        (timedelta(days=31, seconds=1), 10, {("to", "RANGE_TOO_LONG")}),
        (timedelta(hours=1), 9, {("maxPoints", "OUT_OF_RANGE")}),
        (timedelta(hours=1), 5001, {("maxPoints", "OUT_OF_RANGE")}),
        (-timedelta(hours=1), 2**31 - 1, {("to", "NOT_AFTER_FROM"), ("maxPoints", "OUT_OF_RANGE")}),
    ],
)
async def test_validation_answers_field_errors(admin, operator, span, points, errors):
    site = await _site(admin)
    t0 = datetime(2025, 12, 1, tzinfo=UTC)
    chart = (await operator.execute(CHART, _vars(site, t0, t0 + span, points)))["loadChart"]
    assert chart["__typename"] == "ValidationFailed"
    assert {(e["field"], e["code"]) for e in chart["fieldErrors"]} == errors


async def test_a_scoped_token_answers_like_a_missing_depot(admin, scoped_client):
    site = await _site(admin)
    other = await new_depot(admin, "Mine", "F")
    scoped = await scoped_client(Role.OPERATOR, other["depot"]["id"])
    t0 = datetime(2025, 12, 1, tzinfo=UTC)
    missing = "00000000-0000-4000-8000-000000000000"
    seen = await scoped.raw(CHART, _vars(site, t0, t0 + timedelta(hours=1)))
    absent = await scoped.raw(CHART, {**_vars(site, t0, t0 + timedelta(hours=1)), "d": missing})
    assert seen.status_code == absent.status_code == 200
    assert seen.json()["data"]["loadChart"]["code"] == "DEPOT_NOT_FOUND"
    assert seen.text.replace(site["depot"], missing) == absent.text


async def test_an_integration_token_may_not_read_the_chart(admin, integration):
    site = await _site(admin)
    t0 = datetime(2025, 12, 1, tzinfo=UTC)
    body = (await integration.raw(CHART, _vars(site, t0, t0 + timedelta(hours=1)))).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_depot_without_a_microgrid_has_series_and_no_capability_intervals(admin, operator):
    made = await admin.execute(
        """mutation { createDepot(input: {name: "Bare", topLevelCircuits: []}) {
        ... on CreateDepotSuccess { depot { id } } } }"""
    )
    depot = made["createDepot"]["depot"]["id"]
    await admin.execute(SETUP_DEVICE, {"depotId": depot})
    t0 = datetime(2025, 12, 1, tzinfo=UTC)
    chart = (
        await operator.execute(
            CHART, {"d": depot, "f": t0.isoformat(), "t": (t0 + timedelta(hours=1)).isoformat()}
        )
    )["loadChart"]
    assert [s["kind"] for s in chart["series"]] == [
        "POWER_SOURCE_LOAD_W",
        "POWER_SOURCE_SOC_PERCENT",
    ]
    assert chart["capabilityIntervals"] == []


async def _statements(container: Any, client: Any, variables: dict[str, Any]) -> int:
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(container.engine.sync_engine, "before_cursor_execute", counted)
    try:
        chart = (await client.execute(CHART, variables))["loadChart"]
    finally:
        event.remove(container.engine.sync_engine, "before_cursor_execute", counted)
    assert chart["__typename"] == "LoadChart"
    return count


async def test_the_statement_count_depends_on_neither_range_nor_points_nor_readings(
    admin, operator, container
):
    site = await _site(admin)
    t0 = datetime(2025, 12, 1, tzinfo=UTC)
    small = await _statements(container, operator, _vars(site, t0, t0 + timedelta(hours=1), 10))
    await _write(
        container, site, *((t0 + timedelta(minutes=m), float(m)) for m in range(0, 600, 7))
    )
    large = await _statements(container, operator, _vars(site, t0, t0 + timedelta(days=31), 5000))
    assert small == large, f"{small} statements for 1 h at 10 points, {large} for 31 days at 5,000"
