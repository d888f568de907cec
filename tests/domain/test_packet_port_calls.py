"""What one packet asks of the unit of work, call by call, in order.

The sensor actions decide; the use case reads and writes through the ports.
This pins the exact sequence of port calls per packet for every path of every
action, so reshaping the actions cannot add, drop or reorder a statement
unnoticed: reads one call per table for the whole packet (or batch), then the
writes one call per table (per updated record), then the commit."""

from __future__ import annotations

from typing import Any

import pytest

from domain.access import EVERYWHERE
from domain.bindings import set_binding_enabled
from domain.capability import CapabilityType
from domain.changes import Change
from domain.model import SensorActionType
from domain.packet_ingest import PacketIngested, PacketsIngested, ingest_packet, ingest_packets
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


def _packet(site: Site, ts: int, measurands: tuple[tuple[str, object], ...]) -> dict[str, Any]:
    return {
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


async def _calls(site: Site, *measurands: tuple[str, object], offset_ms: int = 0) -> list[str]:
    log: list[str] = []
    ts = int(site.clock.current.timestamp() * 1000) + offset_ms
    raw = _packet(site, ts, measurands)
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
OPEN = ["packet_facts.load"]
"""The packets' devices in scope, their actions, gateways, circuits and power
sources: one read."""
STREAMS = ["events.lock_streams", "latest.for_microgrids", "events.find_many"]
"""The bindings' streams held, then their latest and the packet's events read."""
CLOSE = ["packets.add_all", "commit"]
EVERY_ACTION_APPLIED = [
    *OPEN,
    *STREAMS,
    "events.append_all",
    "latest.put_all",
    "sensor_actions.record_last_reported",
    "equipment.record_power_source_states",
    "circuits.record_capacity_reports",
    "microgrids.bump_revisions",
    "notify CAPACITY",
    "readings.add",
    *CLOSE,
]
"""Both power-source actions write the one routed source: one update. One
revision and one notice per microgrid, named by the last change."""


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
    # read with the packet, nothing written, nothing charted twice.
    assert resent == [
        *OPEN,
        *STREAMS,
        *CLOSE,
    ]
    # Changed: PEAK_SHAVING as before, DER not: rejected before any append.
    assert changed == [*OPEN, *STREAMS, *CLOSE]


async def test_an_older_packet(site):
    await _every_action(site)
    await _calls(site, *EVERY_KEY)
    older = await _calls(site, *EVERY_KEY, offset_ms=-1000)
    assert older == [
        *OPEN,
        *STREAMS,
        "events.append_all",
        "microgrids.bump_revisions",
        "notify CAPABILITY_STATUS",
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
    written = [
        "circuits.record_capacity_reports",
        "microgrids.bump_revisions",
        "notify CAPACITY",
        "readings.add",
    ]
    assert calls == [*OPEN, *(written if on_circuit else []), *CLOSE]


async def test_a_batch_costs_the_calls_of_one_packet(site):
    """Fifty packets of every action, each newer than the last: the same calls
    as one packet, not fifty times them."""
    await _every_action(site)
    log: list[str] = []
    start = int(site.clock.current.timestamp() * 1000)
    raws = [_packet(site, start - 50_000 + 1000 * i, EVERY_KEY) for i in range(50)]
    result = await ingest_packets(_recording(site.deps, log), EVERYWHERE, raws)
    assert isinstance(result, PacketsIngested) and result.accepted == 50
    assert log == EVERY_ACTION_APPLIED
