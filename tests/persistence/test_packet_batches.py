"""ingestSensorPackets: a batch is the packets one by one, in timestamp order.

The property test plays the same packet sequences (duplicates, invalid packets,
out-of-order timestamps, two devices sharing a battery, an unknown device) as
one batch on one store and packet by packet on another, and compares every
answer and every stored row (but the ids the two paths draw in a different
order, and the microgrid's revision, which a batch raises once)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from domain.access import EVERYWHERE
from domain.bindings import configure_sensor_action, create_binding
from domain.capability import CapabilityType
from domain.changes import ChangeReason
from domain.depots import NewCircuit, create_depot
from domain.equipment import (
    NewDevice,
    NewGateway,
    NewPowerSource,
    create_device,
    create_gateway,
    create_power_source,
)
from domain.model import PowerSourceKind, SensorActionType
from domain.packet_ingest import (
    MAX_PACKETS,
    PacketIngested,
    PacketsIngested,
    ingest_packet,
    ingest_packets,
)
from domain.packets import Packet, parse_packet
from domain.ports import Dependencies
from domain.problems import NotFound, ValidationFailed
from persistence import tables as t
from persistence.database import create_engine
from persistence.reading_store import READING_COLUMNS
from persistence.unit_of_work import SqlUnitOfWorkFactory
from tests.conftest import RecordingPublisher
from tests.support import services
from tests.support.clock import FakeClock

T = SensorActionType
VOLATILE = {
    "events": {"id"},
    "capability_latest": {"event_id"},
    "sensor_packets": {"id"},
    "microgrids": {"revision"},
    "readings": {"seq"},
    "capacity_reports": {"seq"},
    "audit_log": {"id"},
}
"""Columns that differ by path: ids drawn in another order, and the revision."""


class _Ids:
    """Ids both stores draw alike: the same site gets the same ids in each."""

    def __init__(self) -> None:
        self.seed, self.n = 0, 0

    def reset(self, seed: int) -> None:
        self.seed, self.n = seed, 0

    def __call__(self) -> UUID:
        self.n += 1
        return UUID(int=(self.seed << 32) + self.n)


@pytest.fixture
def second_url(store: str, tmp_path, request) -> Iterator[str]:
    """Another migrated, empty database of the same kind."""
    if store == "postgresql":
        url, name = services.create_postgres_database()
        yield url
        services.drop_postgres_database(name)
    else:
        yield services.copy_sqlite(str(request.getfixturevalue("sqlite_template")), tmp_path)


class _Site:
    def __init__(self, deps: Dependencies) -> None:
        self.deps = deps

    async def build(self) -> _Site:
        deps = self.deps
        created = await create_depot(
            deps, EVERYWHERE, "D", [NewCircuit("F1", 1e5), NewCircuit("F2", 5e4)]
        )
        depot, self.microgrid = created.depot.id, created.sync.microgrid
        f1, f2 = (n.circuit_id for n in self.microgrid.grid_connections)
        gateway = await create_gateway(deps, EVERYWHERE, NewGateway(depot, "gw", None))
        self.a = await create_device(deps, EVERYWHERE, NewDevice(depot, "a", gateway.id, f1))
        self.b = await create_device(deps, EVERYWHERE, NewDevice(depot, "b", gateway.id, f2))
        await create_power_source(
            deps, EVERYWHERE, NewPowerSource(depot, PowerSourceKind.BATTERY, "bess")
        )
        await create_binding(
            deps,
            EVERYWHERE,
            self.microgrid.id,
            self.a.id,
            [CapabilityType.DER, CapabilityType.PEAK_SHAVING],
            None,
        )
        for action in (T.UPDATE_POWER_SOURCE_STATE, T.UPDATE_POWER_SOURCE_LOAD):
            await configure_sensor_action(deps, EVERYWHERE, self.a.id, action, True)
        for action in (T.UPDATE_POWER_SOURCE_LOAD, T.UPDATE_CIRCUIT_CAPACITY):
            await configure_sensor_action(deps, EVERYWHERE, self.b.id, action, True)
        return self


MEASURANDS = {
    "LIMIT_DER_EXPORT": ["true", "false", None],
    "LIMIT_PEAK_SHAVING": ["true", "false"],
    "SOC": [10, 55.5, None],
    "DEVICE_POWER_STATE": ["on", "off"],
    "TOTAL_POWER_LOAD": [1200, -300.0],
    "AVAILABLE_CHARGING_CAPACITY": [4e4, 9e4],
    "HEARTBEAT_STATUS": ["ok", "timeout"],
    "FAIL_SAFE_CAPACITY": [2e4, None],
    "CURRENT": [3],
}
measurands = st.dictionaries(
    st.sampled_from(sorted(MEASURANDS)),
    st.integers(0, 2),
    min_size=1,
    max_size=7,
).map(
    lambda chosen: [
        {"key": k, "value": MEASURANDS[k][i % len(MEASURANDS[k])], "unit": None}
        for k, i in chosen.items()
    ]
)
packet = st.fixed_dictionaries(
    {
        "device": st.sampled_from(["a", "a", "b", "nowhere"]),
        "offset_ms": st.sampled_from([-3000, -2000, -1000, 0]),
        "measurands": measurands,
    }
)
invalid = st.sampled_from(
    [
        {"device_id": "not-a-uuid", "timestamp": 0},
        {"sensors": [[[[]]]]},
        "a string",
        None,
        {"key": "SOC", "value": 150},
    ]
)


def _raw(site: _Site, now_ms: int, drawn: Any) -> object:
    if not isinstance(drawn, dict) or "offset_ms" not in drawn:
        if isinstance(drawn, dict) and drawn.get("key") == "SOC":
            drawn = {"device": "a", "offset_ms": 0, "measurands": [{**drawn, "unit": None}]}
        else:
            return drawn
    device = {"a": site.a.id, "b": site.b.id}.get(drawn["device"], UUID(int=7))
    return {
        "device_id": str(device),
        "timestamp": now_ms + drawn["offset_ms"],
        "manufacturer": None,
        "model": None,
        "serial_number": None,
        "sensors": [{"sensor_id": "s", "measurands": drawn["measurands"]}],
    }


async def _dump(deps: Dependencies) -> dict[str, list[str]]:
    engine = deps.uow.engine  # type: ignore[attr-defined]
    dumped: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).mappings().all()
            skip = VOLATILE.get(table.name, set())
            if table.name == "readings":
                rows = [_one_reading(r, column) for r in rows for column in READING_COLUMNS]
                rows = [r for r in rows if r["value"] is not None]
            dumped[table.name] = sorted(
                json.dumps(
                    {k: v for k, v in r.items() if k not in skip}, default=str, sort_keys=True
                )
                for r in rows
            )
    return dumped


def _one_reading(row: Any, column: str) -> dict[str, Any]:
    """One reading of a wide ``readings`` row: how a store groups the readings
    of one instant into rows follows how they were written (one request or
    several), not what was read."""
    keep = ("depot_id", "subject_id", "observed_us", "seq")
    return {**{k: row[k] for k in keep}, "column": column, "value": row[column]}


def _answer(result: object) -> object:
    if isinstance(result, PacketIngested):
        r = result.record
        return ("ingested", r.device_id, r.observed_at, r.received_at, r.outcomes)
    return result


def _deps(url: str, clock: FakeClock, ids: _Ids, publisher: RecordingPublisher) -> Dependencies:
    return Dependencies(
        SqlUnitOfWorkFactory(create_engine(url), publisher=publisher), clock, ids, 300
    )


_SEEDS = itertools.count(1)


@pytest.mark.database_only("compares every row two databases gained")
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_a_batch_stores_and_answers_what_its_packets_one_by_one_would(
    database_url, second_url, data
):
    clock, ids = FakeClock(tick=timedelta(0)), _Ids()
    batched = _deps(database_url, clock, ids, RecordingPublisher())
    one_by_one = _deps(second_url, clock, ids, RecordingPublisher())
    try:
        seed, sites, before = next(_SEEDS), [], []
        for deps in (batched, one_by_one):
            before.append(await _dump(deps))
            ids.reset(seed)
            sites.append(await _Site(deps).build())
        ids.reset(10**6 + seed)
        now_ms = int(clock.current.timestamp() * 1000)
        pool = data.draw(
            st.lists(st.one_of(packet, packet, packet, invalid), min_size=1, max_size=6)
        )
        for _ in range(data.draw(st.integers(1, 2), label="requests")):
            sent = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12))
            await _both_ways(batched, one_by_one, [_raw(sites[0], now_ms, p) for p in sent])
            now_ms += data.draw(st.sampled_from([-2500, 0, 1500]), label="next request's shift")
        gained = [
            _gained(b, await _dump(d)) for b, d in zip(before, (batched, one_by_one), strict=True)
        ]
        assert gained[0] == gained[1]
    finally:
        for deps in (batched, one_by_one):
            await deps.uow.engine.dispose()  # type: ignore[attr-defined]


async def _both_ways(batched: Dependencies, one_by_one: Dependencies, raws: list[object]) -> None:
    together = await ingest_packets(batched, EVERYWHERE, raws)

    now = batched.clock.now()
    parsed = [parse_packet(r, now) for r in raws]
    order = sorted(
        range(len(raws)),
        key=lambda i: p.timestamp_ms if isinstance(p := parsed[i], Packet) else 0,
    )
    alone: dict[int, object] = {}
    for i in order:
        alone[i] = await ingest_packet(one_by_one, EVERYWHERE, raws[i])
    assert isinstance(together, PacketsIngested)
    assert [_answer(r) for r in together.results] == [_answer(alone[i]) for i in range(len(raws))]
    assert together.accepted == sum(isinstance(r, PacketIngested) for r in alone.values())
    for code in {
        o.code for r in together.results if isinstance(r, PacketIngested) for o in r.record.outcomes
    }:
        event(code)


def _gained(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[str]]:
    """The rows each table holds now and did not before (new or changed)."""
    return {
        name: sorted((Counter(rows) - Counter(before.get(name, []))).elements())
        for name, rows in after.items()
    }


def _site_deps(deps: Dependencies) -> Dependencies:
    return Dependencies(deps.uow, FakeClock(tick=timedelta(0)), uuid4, 300)


async def test_each_packet_is_refused_on_its_own(deps):
    deps = _site_deps(deps)
    site = await _Site(deps).build()
    now_ms = int(deps.clock.now().timestamp() * 1000)
    soc = [{"key": "SOC", "value": 40, "unit": None}]
    good = _raw(site, now_ms, {"device": "a", "offset_ms": -1000, "measurands": soc})
    newer = _raw(site, now_ms, {"device": "a", "offset_ms": 0, "measurands": soc})
    bad_soc = _raw(
        site, now_ms, {"device": "a", "offset_ms": -500, "measurands": [{**soc[0], "value": 150}]}
    )
    unknown = _raw(site, now_ms, {"device": "nowhere", "offset_ms": 0, "measurands": soc})

    result = await ingest_packets(deps, EVERYWHERE, [newer, bad_soc, unknown, good])

    assert isinstance(result, PacketsIngested)
    first, refused, missing, last = result.results
    assert isinstance(first, PacketIngested) and isinstance(last, PacketIngested)
    assert isinstance(refused, ValidationFailed)
    assert [e.field for e in refused.field_errors] == ["packet.sensors[0].measurands[0].value"]
    assert isinstance(missing, NotFound)
    assert (result.accepted, result.refused) == (2, 2)
    # Applied in timestamp order: the older packet ran first, the newer one wins.
    assert [o.code for o in last.record.outcomes if o.action is T.UPDATE_POWER_SOURCE_STATE] == [
        "APPLIED"
    ]
    async with deps.uow(write=False) as uow:
        kept = await uow.packets.page(site.a.id, 10, None)
    assert sorted(p.observed_at for p in kept) == sorted(
        r.record.observed_at for r in (first, last)
    )


async def test_one_notice_per_microgrid_per_batch(deps, published):
    deps = _site_deps(deps)
    site = await _Site(deps).build()
    published.changes.clear()
    now_ms = int(deps.clock.now().timestamp() * 1000)
    every = [
        {"key": k, "value": v[0], "unit": None} for k, v in MEASURANDS.items() if k != "CURRENT"
    ]
    raws = [
        _raw(site, now_ms, {"device": d, "offset_ms": -1000 * i, "measurands": every})
        for i in range(3)
        for d in ("a", "b")
    ]
    async with deps.uow(write=False) as uow:
        before = (await uow.microgrids.get(site.microgrid.id)).revision

    result = await ingest_packets(deps, EVERYWHERE, raws)

    assert isinstance(result, PacketsIngested) and result.accepted == 6
    async with deps.uow(write=False) as uow:
        after = (await uow.microgrids.get(site.microgrid.id)).revision
        history = await uow.events.history([site.microgrid.id], None, 100, None)
    assert [(c.microgrid_id, c.revision) for c in published.changes] == [
        (site.microgrid.id, before + 1)
    ]
    assert after == before + 1
    assert published.changes[0].reason in set(ChangeReason)
    assert len(history[site.microgrid.id]) == 2 * 3, "every packet's statuses, once each"


async def test_more_than_a_hundred_packets_are_refused_before_any_work(deps, published):
    deps = _site_deps(deps)
    site = await _Site(deps).build()
    now_ms = int(deps.clock.now().timestamp() * 1000)
    soc = [{"key": "SOC", "value": 40, "unit": None}]
    raws = [
        _raw(site, now_ms, {"device": "a", "offset_ms": -i, "measurands": soc})
        for i in range(MAX_PACKETS + 1)
    ]
    published.changes.clear()

    result = await ingest_packets(deps, EVERYWHERE, raws)

    assert isinstance(result, ValidationFailed)
    assert [(e.field, e.code) for e in result.field_errors] == [("packets", "TOO_MANY_PACKETS")]
    async with deps.uow(write=False) as uow:
        assert await uow.packets.page(site.a.id, 10, None) == []
    assert published.changes == []
