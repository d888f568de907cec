"""Running a scenario against a live service, through the real ingest path."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from simulator import vocabulary
from simulator.client import ServiceClient, ServiceError
from simulator.packets import PlannedPacket, plan
from simulator.scenario import Scenario


@dataclass(frozen=True)
class Target:
    depot_id: str
    device_id: str
    circuit_id: str | None


@dataclass
class Check:
    field: str
    expected: Any
    actual: Any

    @property
    def ok(self) -> bool:
        if isinstance(self.expected, int | float) and isinstance(self.actual, int | float):
            return abs(float(self.expected) - float(self.actual)) < 1e-6
        return bool(self.expected == self.actual)


@dataclass
class StepResult:
    planned: PlannedPacket
    outcomes: list[dict[str, Any]]
    card: dict[str, Any]
    circuit: dict[str, Any] | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def evidence(self) -> dict[str, Any]:
        return {
            "step": self.planned.index + 1,
            "name": self.planned.step.name,
            "atSeconds": self.planned.step.at,
            "virtualTime": self.planned.virtual_time.isoformat(),
            "resend": self.planned.step.resend,
            "controller": self.planned.state,
            "packet": self.planned.packet,
            "sent": sent(self.planned.packet),
            "outcomes": self.outcomes,
            "card": self.card,
            "circuit": self.circuit,
            "checks": [
                {"field": c.field, "expected": c.expected, "actual": c.actual, "ok": c.ok}
                for c in self.checks
            ],
        }


@dataclass
class RunResult:
    scenario: Scenario
    target: Target
    start: datetime
    steps: list[StepResult]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


class SimulatorError(RuntimeError):
    """The run could not be carried out (not a failed expectation)."""


def sent(packet: dict[str, Any]) -> dict[str, Any]:
    """What a packet reported, for an oracle: its observed time (the packet
    timestamp) and each measurand's value by generic key, exactly as sent
    (None: unavailable; a key not reported is absent)."""
    observed = datetime.fromtimestamp(packet["timestamp"] / 1000, UTC)
    values = {m["key"]: m["value"] for sensor in packet["sensors"] for m in sensor["measurands"]}
    return {"observedAt": observed.isoformat(), "values": values}


def catch_up(
    scenario: Scenario, device_id: str, now: datetime, last_reported: datetime | None
) -> Iterator[PlannedPacket]:
    """A repeating (generated) scenario's packets for the part of the last
    period ending ``now`` that the device has not reported yet: virtual times
    in (max(last_reported, now - period), now]. Each repetition starts at a
    multiple of the period since the epoch — UTC midnight for a 24 h day — so
    the curves join seamlessly from one catch-up to the next."""
    period = scenario.period_seconds
    if period is None:
        raise SimulatorError(f"{scenario.name} does not repeat: catching up needs [generate]")
    lower = now - timedelta(seconds=period)
    if last_reported is not None and last_reported > lower:
        lower = last_reported
    cycle = math.floor(lower.timestamp() / period) * period
    while cycle <= now.timestamp():
        start = datetime.fromtimestamp(cycle, UTC)
        for planned in plan(scenario, device_id, start):
            if lower < planned.virtual_time <= now:
                yield planned
        cycle += period


async def last_reported(client: ServiceClient, device_id: str) -> datetime | None:
    """The newest observed time among the device's most recently received packets."""
    page = (await client.op("SimLastPackets", deviceId=device_id))["sensorPackets"]
    times = [datetime.fromisoformat(e["node"]["observedAt"]) for e in page["edges"]]
    return max(times, default=None)


async def find_depot(client: ServiceClient, depot: str) -> str:
    """A depot id, given its id or its exact name (one visible depot must carry it)."""
    try:
        return str(UUID(depot))
    except ValueError:
        pass
    found: list[str] = []
    after: str | None = None
    while True:
        page = (await client.op("Depots", first=100, after=after))["depots"]
        found += [e["node"]["id"] for e in page["edges"] if e["node"]["name"] == depot]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    if len(found) != 1:
        raise SimulatorError(
            f"{len(found)} depots named {depot!r} are visible to this token; give its id"
        )
    return found[0]


def default_start(scenario: Scenario, now: datetime, realtime: bool) -> datetime:
    """Virtual time: with --realtime the run starts now and waits out the
    offsets; otherwise the timeline ends now, so every packet is in the past
    (the service refuses timestamps more than 5 minutes ahead) and the last
    step is "now" for freshness."""
    now = now.astimezone(UTC).replace(microsecond=0)
    return now if realtime else now - timedelta(seconds=scenario.duration_seconds)


async def provision(client: ServiceClient, scenario: Scenario) -> Target:
    """What the scenario needs: a depot with a feeder, a gateway without a
    site model, a controller device on the feeder with every sensor action and
    a binding, and (by default) a battery."""
    p = scenario.provision
    created = (
        await client.op(
            "SimCreateDepot",
            input={
                "name": f"Simulator: {scenario.name}",
                "topLevelCircuits": [{"name": "Main feeder", "safeCapacityW": p.safe_capacity_w}],
            },
        )
    )["createDepot"]
    if created["__typename"] != "CreateDepotSuccess":
        raise SimulatorError(f"cannot create the depot: {created}")
    depot_id = created["depot"]["id"]
    microgrid_id = created["microgrid"]["id"]
    feeder = created["microgrid"]["gridConnections"][0]["circuitId"]
    gateway = (
        await client.op(
            "CreateGateway",
            input={"depotId": depot_id, "name": "Simulated gateway", "siteModelName": None},
        )
    )["createGateway"]
    device = (
        await client.op(
            "CreateDevice",
            input={
                "depotId": depot_id,
                "name": "BBA microgrid controller",
                "gatewayId": gateway["id"],
                "circuitId": feeder,
            },
        )
    )["createDevice"]
    if p.battery:
        await client.op(
            "CreatePowerSource",
            input={"depotId": depot_id, "kind": "BATTERY", "name": "BESS", "circuitId": feeder},
        )
    bound = (
        await client.op(
            "SimBind",
            input={
                "microgridId": microgrid_id,
                "deviceId": device["id"],
                "capabilities": list(p.capabilities),
                "staleAfterSeconds": p.stale_after_seconds,
            },
        )
    )["createControllerBinding"]
    if bound["__typename"] != "ControllerBinding":
        raise SimulatorError(f"cannot bind the controller: {bound}")
    for action in vocabulary.actions():
        if action == vocabulary.BINDING_ACTION:
            continue  # the binding above configured it
        await client.op("SimConfigure", input={"deviceId": device["id"], "type": action})
    return Target(depot_id, device["id"], feeder)


async def discover(client: ServiceClient, depot_id: str, device_id: str | None) -> Target:
    """The controller device of a depot, as configured in the service."""
    depot = (await client.op("SimTargets", depotId=depot_id))["depot"]
    if depot is None:
        raise SimulatorError(f"no depot {depot_id} visible to this token")
    devices = {d["id"]: d for d in depot["devices"]}
    if device_id is not None:
        if device_id not in devices:
            raise SimulatorError(f"device {device_id} is not in depot {depot_id}")
        chosen = devices[device_id]
    else:
        bound = {
            b["deviceId"]
            for b in (depot["microgrid"] or {}).get("controllerBindings", [])
            if b["enabled"]
        }
        candidates = [d for d in depot["devices"] if d["id"] in bound] or [
            d for d in depot["devices"] if d["sensorActions"]
        ]
        if len(candidates) != 1:
            names = ", ".join(f"{d['name']} ({d['id']})" for d in candidates or depot["devices"])
            raise SimulatorError(
                f"depot {depot_id} has {len(candidates)} candidate controller devices; "
                f"choose one with --device: {names or 'none configured'}"
            )
        chosen = candidates[0]
    return Target(depot_id, chosen["id"], chosen["circuitId"])


async def run(
    client: ServiceClient,
    scenario: Scenario,
    target: Target,
    start: datetime,
    *,
    realtime: bool = False,
    progress: Callable[[StepResult], None] | None = None,
    evidence: Path | None = None,
    packets: Iterable[PlannedPacket] | None = None,
    read_back: bool = True,
    batch: int = 1,
) -> RunResult:
    """Send each step's packet in order and read the card back after it (with
    ``read_back`` False: only after steps with expectations; the evidence of the
    others has an empty card); ``packets`` replaces the timeline from ``start``
    (see catch_up). With ``batch`` N, up to N steps' packets go in one request,
    as a gateway flushes its buffer; a step with expectations ends its request,
    and the card is read back after each request's last step only."""
    results: list[StepResult] = []
    sink = evidence.open("w") if evidence else None

    def record(result: StepResult) -> None:
        results.append(result)
        if sink:
            sink.write(json.dumps(result.evidence(), separators=(",", ":")) + "\n")
            sink.flush()
        if progress:
            progress(result)

    try:
        chunk: list[PlannedPacket] = []
        for planned in plan(scenario, target.device_id, start) if packets is None else packets:
            chunk.append(planned)
            if len(chunk) < batch and not planned.step.expect:
                continue
            if realtime:
                delay = (planned.virtual_time - datetime.now(UTC)).total_seconds()
                if delay > 0:
                    await asyncio.sleep(delay)
            for result in await _send(client, target, chunk, read_back):
                record(result)
            chunk = []
        if chunk:
            for result in await _send(client, target, chunk, read_back):
                record(result)
    finally:
        if sink:
            sink.close()
    return RunResult(scenario, target, start, results)


async def _send(
    client: ServiceClient, target: Target, chunk: list[PlannedPacket], read_back: bool
) -> list[StepResult]:
    """One request for the chunk (ingestSensorPacket for one packet, else
    ingestSensorPackets), then the card read back once, after its last step."""
    last = chunk[-1]
    if len(chunk) == 1:
        return [await _step(client, target, last, read_back or bool(last.step.expect))]
    answer = (await client.op("SimIngestMany", packets=[p.packet for p in chunk]))[
        "ingestSensorPackets"
    ]
    if answer["__typename"] != "SensorPacketsIngested":
        raise SimulatorError(
            f"steps {chunk[0].index + 1}-{last.index + 1}: the service refused the request: "
            f"{json.dumps(answer)}"
        )
    for planned, result in zip(chunk, answer["results"], strict=True):
        if result["__typename"] != "SensorPacketIngested":
            raise SimulatorError(
                f"step {planned.index + 1}: the service refused the packet: {json.dumps(result)}"
            )
    steps = [
        StepResult(planned, result["outcomes"], {}, None)
        for planned, result in zip(chunk, answer["results"], strict=True)
    ]
    if read_back or last.step.expect:
        steps[-1] = await _read_back(client, target, last, steps[-1].outcomes)
    return steps


async def _step(
    client: ServiceClient, target: Target, planned: PlannedPacket, read_back: bool
) -> StepResult:
    answer = (await client.op("SimIngest", packet=planned.packet))["ingestSensorPacket"]
    if answer["__typename"] != "SensorPacketIngested":
        raise SimulatorError(
            f"step {planned.index + 1}: the service refused the packet: {json.dumps(answer)}"
        )
    if not read_back:
        return StepResult(planned, answer["outcomes"], {}, None)
    return await _read_back(client, target, planned, answer["outcomes"])


async def _read_back(
    client: ServiceClient,
    target: Target,
    planned: PlannedPacket,
    outcomes: list[dict[str, Any]],
) -> StepResult:
    back = await client.op("SimReadBack", depotId=target.depot_id)
    card = back["microgridCard"]
    circuits = (back.get("depot") or {}).get("circuits", [])
    circuit = next((c for c in circuits if c["id"] == target.circuit_id), None)
    result = StepResult(planned, outcomes, card, circuit)
    result.checks = _checks(planned.step.expect, result)
    return result


def _checks(expect: dict[str, Any], result: StepResult) -> list[Check]:
    card, circuit = result.card, result.circuit or {}
    outcomes = {o["action"]: o for o in result.outcomes}
    source = _power_source(result)
    actual: dict[str, Callable[[], Any]] = {
        "effective_capacity_w": lambda: circuit.get("effectiveCapacityW"),
        "capacity_source": lambda: circuit.get("capacitySource"),
        "soc_percent": lambda: source.get("socPercent"),
        "bess_mode": lambda: source.get("operationalMode"),
        "power_state": lambda: source.get("powerState"),
        "load_w": lambda: source.get("loadW"),
    }
    statuses = {s["capability"]: s for s in card.get("capabilities") or []}
    for capability in vocabulary.capabilities():
        status = statuses.get(capability)
        actual[vocabulary.status_key(capability)] = partial(_status, status)
        actual[vocabulary.freshness_key(capability)] = partial(
            _freshness, status, result.planned.virtual_time
        )
    checks: list[Check] = []
    for key, expected in expect.items():
        if key == "outcomes":
            for action, wanted in expected.items():
                got = outcomes.get(action)
                value = (
                    None
                    if got is None
                    else (got["outcome"] if wanted == got["outcome"] else got["code"])
                )
                checks.append(Check(f"outcomes.{action}", wanted, value))
        else:
            checks.append(Check(key, expected, actual[key]()))
    return checks


def _status(status: dict[str, Any] | None) -> str | None:
    return status.get("status") if status else None


def _freshness(status: dict[str, Any] | None, at: datetime) -> str | None:
    """Freshness at the step's virtual time, from the observedAt and
    staleAfterSeconds the service reports (its own ``freshness`` uses its wall
    clock; both are in the evidence, and they agree with --realtime)."""
    if not status:
        return None
    if status.get("observedAt") is None:
        return "NEVER_REPORTED"
    observed = datetime.fromisoformat(status["observedAt"])
    fresh = at < observed + timedelta(seconds=status["staleAfterSeconds"])
    return "FRESH" if fresh else "STALE"


def _power_source(result: StepResult) -> dict[str, Any]:
    """The power source the packet's actions were routed to, else the first."""
    sources = result.card.get("powerSources") or []
    routed = {o["targetId"] for o in result.outcomes}
    return next((s for s in sources if s["id"] in routed), sources[0] if sources else {})


__all__ = [
    "ServiceClient",
    "ServiceError",
    "SimulatorError",
    "catch_up",
    "default_start",
    "discover",
    "find_depot",
    "last_reported",
    "provision",
    "run",
    "sent",
]
