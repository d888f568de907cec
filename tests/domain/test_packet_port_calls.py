"""What one packet asks of the unit of work, call by call, in order.

The sensor actions decide; the use case reads and writes through the ports.
This pins the exact sequence of port calls per packet for every path of every
action, so reshaping the actions (or batching them later) cannot add, drop or
reorder a statement unnoticed. The sequences were recorded from the `match`
in packet_ingest.py before sensor actions became a registry."""

from __future__ import annotations

from typing import Any

import pytest

from domain.access import EVERYWHERE
from domain.bindings import set_binding_enabled
from domain.capability import CapabilityType
from domain.changes import Change
from domain.model import SensorActionType
from domain.packet_ingest import PacketIngested, ingest_packet
from domain.ports import Dependencies
from tests.domain.test_sensor_actions import Site

T = SensorActionType
REPOSITORIES = (
    "depots",
    "circuits",
    "microgrids",
    "equipment",
    "events",
    "latest",
    "sensor_actions",
    "packets",
    "readings",
)


class _Recorded:
    def __init__(self, target: Any, name: str, log: list[str]) -> None:
        self._target, self._name, self._log = target, name, log

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._target, attr)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._log.append(f"{self._name}.{attr}")
            return value(*args, **kwargs)

        return call


class _RecordingUnitOfWork:
    def __init__(self, inner: Any, log: list[str]) -> None:
        self._inner, self._log = inner, log

    async def __aenter__(self) -> _RecordingUnitOfWork:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return _Recorded(getattr(self._inner, name), name, self._log)

    def notify(self, change: Change) -> None:
        self._log.append(f"notify {change.reason.value}")
        self._inner.notify(change)

    async def commit(self) -> None:
        self._log.append("commit")
        await self._inner.commit()


def _recording(deps: Dependencies, log: list[str]) -> Dependencies:
    inner = deps.uow

    def factory(*, write: bool = True) -> Any:
        return _RecordingUnitOfWork(inner(write=write), log)

    return Dependencies(factory, deps.clock, deps.new_id, deps.stale_after_seconds)


async def _calls(site: Site, *measurands: tuple[str, object], offset_ms: int = 0) -> list[str]:
    log: list[str] = []
    ts = int(site.clock.current.timestamp() * 1000) + offset_ms
    raw = {
        "device_id": str(site.device.id),
        "timestamp": ts,
        "manufacturer": None,
        "model": None,
        "serial_number": None,
        "sensors": [
            {
                "sensor_id": "s1",
                "measurands": [{"key": k, "value": v, "unit": None} for k, v in measurands],
            }
        ],
    }
    result = await ingest_packet(_recording(site.deps, log), EVERYWHERE, raw)
    assert isinstance(result, PacketIngested), result
    return log


EVERY_KEY = (
    ("LIMIT_DER_EXPORT", "true"),
    ("LIMIT_PEAK_SHAVING", "false"),
    ("SOC", 40),
    ("DEVICE_POWER_STATE", "on"),
    ("TOTAL_POWER_LOAD", 1200),
    ("AVAILABLE_CHARGING_CAPACITY", 5e4),
    ("HEARTBEAT_STATUS", "ok"),
    ("FAIL_SAFE_CAPACITY", 2e4),
)
OPEN = ["equipment.device", "sensor_actions.for_devices"]
CLOSE = ["packets.add", "commit"]
CHARTED_CLOSE = ["readings.add", *CLOSE]
"""An applied power-source or capacity update: the packet's readings in one call."""
APPEND = [
    "events.reserve_sequence",
    "events.find",
    "latest.for_microgrids",
    "sensor_actions.bindings_for_microgrids",
]
APPENDED = ["events.append", "latest.put", "microgrids.bump_revision", "notify CAPABILITY_STATUS"]
OLDER_APPENDED = ["events.append", "microgrids.bump_revision", "notify CAPABILITY_STATUS"]
POWER_SOURCE = [
    "equipment.power_sources",
    "equipment.gateway",
    "equipment.update_power_source",
    "microgrids.for_depot",
    "microgrids.bump_revision",
    "notify POWER_SOURCE",
]
CAPACITY = [
    "circuits.get",
    "circuits.update",
    "microgrids.for_depot",
    "microgrids.bump_revision",
    "notify CAPACITY",
]
EVERY_ACTION_APPLIED = [
    *OPEN,
    *["events.find", "events.find"],
    *APPEND,
    *APPENDED,
    *APPEND,
    *APPENDED,
    "sensor_actions.update",
    *POWER_SOURCE,
    *POWER_SOURCE,
    *CAPACITY,
    *CHARTED_CLOSE,
]


async def _every_action(site: Site) -> None:
    await site.bind(CapabilityType.DER, CapabilityType.PEAK_SHAVING)
    await site.source("BESS")
    for action_type in (
        T.UPDATE_POWER_SOURCE_STATE,
        T.UPDATE_POWER_SOURCE_LOAD,
        T.UPDATE_CIRCUIT_CAPACITY,
    ):
        await site.action(action_type)


@pytest.fixture
async def site() -> Site:
    return await Site().build()


async def test_a_packet_for_every_action(site):
    await _every_action(site)
    assert await _calls(site, *EVERY_KEY) == EVERY_ACTION_APPLIED


async def test_a_resent_and_a_changed_packet(site):
    await _every_action(site)
    await _calls(site, *EVERY_KEY)
    resent = await _calls(site, *EVERY_KEY)
    changed = await _calls(site, ("LIMIT_DER_EXPORT", "false"), ("LIMIT_PEAK_SHAVING", "false"))
    # Re-sent: both events found, nothing appended, the binding left alone; the
    # power source and the circuit already hold these values from this instant:
    # looked up, nothing written, nothing charted twice.
    assert resent == [
        *OPEN,
        *["events.find", "events.find"],
        *APPEND,
        *APPEND,
        *["equipment.power_sources", "equipment.gateway"],
        *["equipment.power_sources", "equipment.gateway"],
        "circuits.get",
        *CLOSE,
    ]
    # Changed: PEAK_SHAVING as before, DER not: rejected before any append.
    assert changed == [*OPEN, "events.find", "events.find", *CLOSE]


async def test_an_older_packet(site):
    await _every_action(site)
    await _calls(site, *EVERY_KEY)
    older = await _calls(site, *EVERY_KEY, offset_ms=-1000)
    assert older == [
        *OPEN,
        *["events.find", "events.find"],
        *APPEND,
        *OLDER_APPENDED,
        *APPEND,
        *OLDER_APPENDED,
        *["equipment.power_sources", "equipment.gateway"],
        *["equipment.power_sources", "equipment.gateway"],
        "circuits.get",
        *CLOSE,
    ]


async def test_absent_unavailable_and_disabled(site):
    binding = await site.bind(CapabilityType.DER)
    await site.action(T.UPDATE_POWER_SOURCE_LOAD)
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    absent = await _calls(site, ("CURRENT", 3))
    unavailable = await _calls(site, ("LIMIT_DER_EXPORT", None), offset_ms=1)
    missing = await _calls(site, ("HEARTBEAT_STATUS", "ok"), offset_ms=2)
    await set_binding_enabled(site.deps, EVERYWHERE, binding.id, False)
    disabled = await _calls(site, ("LIMIT_DER_EXPORT", "true"), offset_ms=3)
    assert absent == unavailable == missing == disabled == [*OPEN, *CLOSE]


@pytest.mark.parametrize("on_circuit", [True, False])
async def test_packets_that_need_remediation(on_circuit):
    """No power source to route to (and, off the circuit, no circuit either)."""
    site = await Site().build(device_on_circuit=on_circuit)
    await site.action(T.UPDATE_POWER_SOURCE_STATE)
    await site.action(T.UPDATE_CIRCUIT_CAPACITY)
    calls = await _calls(site, ("SOC", 10), *EVERY_KEY[5:7])
    routing = ["equipment.power_sources", "equipment.gateway"]
    capacity = [*CAPACITY, "readings.add"] if on_circuit else []
    assert calls == [*OPEN, *routing, *capacity, *CLOSE]
