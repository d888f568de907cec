"""No packet, valid or malformed, raises an unhandled error or leaves a partial write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from domain.access import EVERYWHERE
from domain.bindings import configure_sensor_action, create_binding
from domain.capability import CapabilityType
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewDevice, NewPowerSource, create_device, create_power_source
from domain.model import PowerSourceKind, SensorActionType
from domain.packet_ingest import PacketIngested, ingest_packet
from domain.packets import NUMERIC_KEYS, STATUS_VALUES
from domain.problems import NotFound, ValidationFailed
from persistence import tables as t

KEYS = [*sorted(NUMERIC_KEYS | set(STATUS_VALUES)), "Soc", "X_VENDOR", "", "lower"]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
values = st.one_of(
    json_leaf,
    *[st.sampled_from(sorted(v)) for v in STATUS_VALUES.values()],
    st.floats(min_value=0, max_value=100),
)
measurand = st.fixed_dictionaries(
    {"key": st.one_of(st.sampled_from(KEYS), json_leaf), "value": values},
    optional={"unit": st.one_of(st.none(), st.text(max_size=4), st.integers())},
)
sensor = st.fixed_dictionaries(
    {
        "sensor_id": st.one_of(st.just("s1"), json_leaf),
        "measurands": st.one_of(st.lists(measurand, max_size=6), json_leaf),
    }
)
arbitrary = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

REAL_DEVICE = "<the site's device>"
SHAPED = st.fixed_dictionaries(
    {
        "device_id": st.one_of(st.just(REAL_DEVICE), json_leaf),
        "timestamp": st.one_of(
            st.integers(-(10**7), 10**6).map(lambda ms: ("offset", ms)), json_leaf
        ),
        "manufacturer": st.one_of(st.none(), st.text(max_size=5)),
        "model": st.none(),
        "serial_number": st.none(),
        "sensors": st.one_of(st.lists(sensor, max_size=3), json_leaf),
    }
)


def _valid_value(key: str) -> st.SearchStrategy[object]:
    if key in STATUS_VALUES:
        return st.one_of(st.none(), st.sampled_from(sorted(STATUS_VALUES[key])))
    if key == "SOC":
        return st.one_of(st.none(), st.floats(0, 100))
    return st.one_of(st.none(), st.floats(0, 1e6), st.integers(0, 10**6))


valid_measurand = st.sampled_from(sorted(NUMERIC_KEYS | set(STATUS_VALUES))).flatmap(
    lambda key: _valid_value(key).map(lambda v: {"key": key, "value": v, "unit": None})
)
VALID = st.fixed_dictionaries(
    {
        "device_id": st.just(REAL_DEVICE),
        "timestamp": st.integers(-(10**7), 0).map(lambda ms: ("offset", ms)),
        "manufacturer": st.none(),
        "model": st.none(),
        "serial_number": st.none(),
        "sensors": st.lists(
            st.fixed_dictionaries(
                {"sensor_id": st.just("s"), "measurands": st.lists(valid_measurand, max_size=8)}
            ),
            min_size=1,
            max_size=2,
        ),
    }
)

TABLES = (
    t.events,
    t.capability_latest,
    t.sensor_packets,
    t.power_sources,
    t.circuits,
    t.microgrids,
    t.sensor_actions,
    t.readings,
    t.capacity_reports,
)


async def _fingerprint(engine) -> tuple:
    async with engine.connect() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(x))).scalar_one() for x in TABLES
        ]
        revisions = (await conn.execute(select(t.microgrids.c.revision))).scalars().all()
        states = (
            tuple((await conn.execute(select(t.power_sources.c.soc_percent))).scalars().all()),
            tuple((await conn.execute(select(t.circuits.c.available_capacity_w))).scalars().all()),
        )
    return tuple(counts), tuple(revisions), tuple(states)


@pytest.mark.database_only(
    "it counts rows in the tables; a fake commits whole copies, so it cannot half-write"
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_any_packet_is_answered_and_never_half_written(deps, data):
    if not hasattr(deps, "_site"):
        created = await create_depot(deps, EVERYWHERE, "P", [NewCircuit("F", 1.0)])
        feeder = created.sync.microgrid.grid_connections[0].circuit_id
        device = await create_device(
            deps, EVERYWHERE, NewDevice(created.depot.id, "d", circuit_id=feeder)
        )
        await create_power_source(
            deps, EVERYWHERE, NewPowerSource(created.depot.id, PowerSourceKind.BATTERY, "b")
        )
        await create_binding(
            deps,
            EVERYWHERE,
            created.sync.microgrid.id,
            device.id,
            [CapabilityType.DER, CapabilityType.PEAK_SHAVING],
            None,
        )
        for action in list(SensorActionType)[1:]:
            await configure_sensor_action(deps, EVERYWHERE, device.id, action, True)
        object.__setattr__(deps, "_site", device)
    device = deps._site
    now_ms = int(deps.clock.current.timestamp() * 1000)
    packet = data.draw(st.one_of(VALID, VALID, SHAPED, arbitrary))
    if isinstance(packet, dict) and packet.get("device_id") == REAL_DEVICE:
        packet["device_id"] = str(device.id)
    if isinstance(packet, dict) and isinstance(packet.get("timestamp"), tuple):
        packet["timestamp"] = now_ms + packet["timestamp"][1]
    before = await _fingerprint(deps.uow.engine)

    result = await ingest_packet(deps, EVERYWHERE, packet)

    after = await _fingerprint(deps.uow.engine)
    event(type(result).__name__)
    assert isinstance(result, PacketIngested | NotFound | ValidationFailed)
    if isinstance(result, PacketIngested):
        assert len(result.record.outcomes) == 4
        assert after[0][2] == before[0][2] + 1, "the packet is kept"
        applied = {o.action for o in result.record.outcomes if o.outcome.value == "APPLIED"}
        reported = SensorActionType.UPDATE_CIRCUIT_CAPACITY in applied
        assert after[0][8] == before[0][8] + reported, "a capacity report per applied report"
        if not applied & {*list(SensorActionType)[1:]}:
            assert after[0][7] == before[0][7], "no applied update, no reading"
    else:
        assert after == before, "a refused packet writes nothing"
    deps.clock.advance(timedelta(seconds=1).total_seconds())
