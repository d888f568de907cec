"""One generic sensor packet per scenario step, from the evolving controller state."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator import bba, site
from simulator.scenario import Scenario
from simulator.timeline import Step

SENSOR_ID = "mgc-1"


@dataclass(frozen=True)
class PlannedPacket:
    index: int
    step: Step
    virtual_time: datetime
    packet: dict[str, Any]
    state: dict[str, Any]
    """The controller state (BBA keys) this packet was translated from."""


def plan(scenario: Scenario, device_id: str, start: datetime) -> Iterator[PlannedPacket]:
    """The packets of a run: deterministic in (scenario, device id, start)."""
    rng = random.Random(scenario.seed)
    state: dict[str, Any] = dict(scenario.initial)
    previous: dict[str, Any] | None = None
    for index, step in enumerate(scenario.steps):
        virtual = start + timedelta(seconds=step.at)
        if step.resend and previous is not None:
            yield PlannedPacket(index, step, virtual, previous, dict(state))
            continue
        for key in step.unset:
            state.pop(key, None)
        state.update(step.set)
        for key in step.unavailable:
            state[key] = None
        reported = dict(state)
        for key, amplitude in sorted(step.noise.items()):
            if reported.get(key) is not None:
                reported[key] = _noisy(key, reported[key], amplitude, rng)
        previous = packet(
            device_id,
            virtual,
            bba.translate(reported),
            scenario.identity,
            site.translate(reported),
        )
        yield PlannedPacket(index, step, virtual, previous, reported)


def _noisy(key: str, value: float, amplitude: float, rng: random.Random) -> float:
    noisy = round(value + rng.uniform(-amplitude, amplitude), 3)
    if key == bba.BESS_SOC:
        return min(max(noisy, 0.0), 100.0)
    return max(noisy, 0.0) if key in bba.NUMBER_KEYS else noisy


def packet(
    device_id: str,
    at: datetime,
    measurands: list[bba.Measurand],
    identity: dict[str, str | None],
    site_measurands: list[bba.Measurand] | None = None,
) -> dict[str, Any]:
    """The controller's sensor, and the site sensor when it reports anything."""
    body: dict[str, Any] = {
        "device_id": device_id,
        "timestamp": int(at.astimezone(UTC).timestamp() * 1000),
        "manufacturer": identity.get("manufacturer"),
        "model": identity.get("model"),
        "serial_number": identity.get("serial_number"),
    }
    if identity.get("firmware") is not None:
        body["firmware"] = identity["firmware"]
    body["sensors"] = [_sensor(SENSOR_ID, measurands)]
    if site_measurands:
        body["sensors"].append(_sensor(site.SENSOR_ID, site_measurands))
    return body


def _sensor(sensor_id: str, measurands: list[bba.Measurand]) -> dict[str, Any]:
    return {
        "sensor_id": sensor_id,
        "measurands": [
            {"key": key, "value": value, "unit": unit} for key, value, unit in measurands
        ],
    }
