"""The one property every hostile input must keep: a client error, never a fault.

``check`` asserts it for one HTTP answer; ``check_reads`` asserts that the
depot's card, history, topology and packets still read after an accepted input."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import httpx

from tests.hostile.strategies import dumps

PROBLEMS = {"ValidationFailed", "NotFound", "Conflict", "ProvisioningFailed"}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: bare {name}")


def strict_loads(text: str | bytes) -> Any:
    """RFC 8259 JSON: NaN, Infinity and -Infinity are refused."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested deeper than the parser's recursion limit") from None


class TracebackLog(logging.Handler):
    """Keeps every record, at any level, that carries a traceback: an exception
    with a stack, a stack, or traceback text. (An error attached without a
    stack, as graphql-core's validation errors are, prints no traceback.)"""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        has_exc = bool(record.exc_info and record.exc_info[2] is not None)
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if has_exc or "Traceback (most recent call last)" in text or record.stack_info:
            self.records.append(record)

    def take(self) -> list[str]:
        found = [
            f"{r.name} {r.levelname}: {r.getMessage()[:200]} "
            f"({r.exc_info[0].__name__ if r.exc_info and r.exc_info[0] else 'text'})"
            for r in self.records
        ]
        self.records.clear()
        return found


SURVEY = os.environ.get("HOSTILE_SURVEY")
_sent = {"last": ""}


def remember(sent: str) -> None:
    """The hostile input in play, named in survey lines."""
    _sent["last"] = sent if len(sent) <= 400 else f"{sent[:400]}…({len(sent)} chars)"


def fail(what: str, kind: str, detail: str) -> None:
    """A broken invariant. With HOSTILE_SURVEY=<file> it is appended there as a
    JSON line and the run goes on, to list every failure class in one run."""
    if not SURVEY:
        raise AssertionError(f"{what}: {kind}: {detail}")
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
    with open(SURVEY, "a", encoding="utf-8") as out:
        line = {
            "test": test,
            "what": what,
            "kind": kind,
            "detail": detail[:600],
            "input": _sent["last"],
        }
        out.write(json.dumps(line) + "\n")


def assert_no_traceback(log: TracebackLog, what: str) -> None:
    found = log.take()
    if found:
        fail(what, "traceback logged for client input", "; ".join(found))


def _walk_codes(value: Any) -> list[str]:
    """Every ``code`` string in the body, at any depth (iteratively: a stored
    packet read back may be nested deeper than the recursion limit)."""
    codes: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if isinstance(item.get("code"), str):
                codes.append(item["code"])
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return codes


def check(response: httpx.Response, log: TracebackLog, what: str) -> Any:
    """Status < 500, strict JSON, no INTERNAL_SERVER_ERROR, every error with
    ``extensions.code``, no traceback logged. Returns the parsed body."""
    text = response.text
    status = response.status_code
    if status >= 500:
        fail(what, f"HTTP {status}", text[:300])
    try:
        body = strict_loads(response.content)
    except ValueError as error:
        kind = "body is not strict JSON"
        fail(
            what,
            kind,
            f"HTTP {status} {response.headers.get('content-type')} ({error}) {text[:300]!r}",
        )
        assert_no_traceback(log, what)
        return None
    if "INTERNAL_SERVER_ERROR" in _walk_codes(body):
        fail(what, "INTERNAL_SERVER_ERROR", text[:500])
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        if not isinstance(error, dict) or not (error.get("extensions") or {}).get("code"):
            fail(what, "error without extensions.code", json.dumps(error)[:300])
    assert_no_traceback(log, what)
    return body


def accepted(body: Any) -> bool:
    """True when the mutation did something: data, no errors, no Problem."""
    if not isinstance(body, dict) or body.get("errors") or not body.get("data"):
        return False
    (value,) = body["data"].values()
    return not (isinstance(value, dict) and value.get("__typename") in PROBLEMS)


@dataclass
class Site:
    """One depot with a bound controller, reused by every example of a test."""

    depot_id: str
    microgrid_id: str
    feeder_id: str
    child_id: str
    gateway_id: str
    device_id: str
    battery_id: str
    binding_id: str
    token: str


async def post(
    http: httpx.AsyncClient,
    token: str | None,
    query: str,
    variables: Any = None,
    *,
    hostile: bool = True,
) -> httpx.Response:
    """POST a GraphQL request written by ``dumps`` (NaN, surrogates and all)."""
    body = {"query": query, "variables": variables if variables is not None else {}}
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    text = dumps(body)
    if hostile:
        remember(dumps(variables))
    return await http.post("/graphql", content=text.encode(), headers=headers)


STATUS = """capability status observedAt receivedAt ageSeconds freshness staleAfterSeconds
  staleAt providerEventRef sourceDeviceId eventId"""
CIRCUIT = """id depotId name parentId isTopLevel position safeCapacityW availableCapacityW
  failSafeCapacityW heartbeatStatus capacityUpdatedAt effectiveCapacityW capacitySource"""
POWER = "id depotId circuitId kind name powerState operationalMode socPercent loadW updatedAt"
CARD = f"""query ($depotId: ID!) {{ microgridCard(depotId: $depotId) {{ __typename
  ... on MicrogridCard {{ microgridId depotId depotName microgridVersion revision generatedAt
    peakShaving {{ {STATUS} }} der {{ {STATUS} }}
    gridConnections {{ id name position circuitId circuit {{ {CIRCUIT} }} }}
    powerSources {{ {POWER} }} }} }} }}"""
MICROGRID = f"""query ($id: ID!, $after: String) {{ microgrid(id: $id) {{ __typename
  ... on Microgrid {{ id version createdAt updatedAt
    topology {{ id parentId kind name depth gridConnectionId }}
    drift {{ inSync added removed renamed reordered }}
    capabilityStatuses {{ {STATUS} }}
    capabilityHistory(first: 20, after: $after) {{
      edges {{ cursor node {{ id capability value status observedAt receivedAt
        providerEventRef sourceDeviceId sequence appliedToLatest }} }}
      pageInfo {{ hasNextPage endCursor }} }}
    controllerBindings(includeDisabled: true) {{ id deviceId capabilities enabled
      staleAfterSeconds createdAt updatedAt lastReportedAt }} }} }} }}"""
DEPOT = f"""query ($id: ID!) {{ depot(id: $id) {{ id name createdAt
  circuits {{ {CIRCUIT} }} powerSources {{ {POWER} }}
  gateways {{ id name siteModelName outputTranslation }}
  devices {{ id name gatewayId circuitId sensorActions {{ id type enabled }} }} }} }}"""
PACKETS = """query ($deviceId: ID!, $after: String) {
  sensorPackets(deviceId: $deviceId, first: 20, after: $after) {
    edges { cursor node { id deviceId observedAt receivedAt packet
      outcomes { sensorActionId action outcome code message targetId measurands } } }
    pageInfo { hasNextPage endCursor } } }"""


async def _read(http: httpx.AsyncClient, site: Site, log: TracebackLog, name: str, q: str, v: Any):
    response = await post(http, site.token, q, v, hostile=False)
    what = f"read {name} after an accepted input"
    body = check(response, log, what)
    if body is None or body.get("errors") or not body.get("data"):
        fail(what, "read failed", json.dumps(body)[:500])
        return None
    return body["data"]


async def check_reads(
    http: httpx.AsyncClient, site: Site, log: TracebackLog, depot_id: str | None = None
) -> None:
    """The depot's card, microgrid (topology + history, two pages), depot and
    packets (two pages) answer without errors, as strict JSON."""
    depot = depot_id or site.depot_id
    card = await _read(http, site, log, "microgridCard", CARD, {"depotId": depot})
    microgrid_id = site.microgrid_id if depot_id is None else None
    if depot_id is not None and card:
        microgrid_id = card["microgridCard"].get("microgridId")
    data = None
    if microgrid_id:
        data = await _read(http, site, log, "microgrid", MICROGRID, {"id": microgrid_id})
    if data:
        cursor = (data["microgrid"].get("capabilityHistory") or {}).get("pageInfo", {})
        if cursor.get("endCursor"):
            await _read(
                http,
                site,
                log,
                "capabilityHistory page 2",
                MICROGRID,
                {"id": microgrid_id, "after": cursor["endCursor"]},
            )
    await _read(http, site, log, "depot", DEPOT, {"id": depot})
    if depot_id is None:
        data = await _read(http, site, log, "sensorPackets", PACKETS, {"deviceId": site.device_id})
        end = data and data["sensorPackets"]["pageInfo"]["endCursor"]
        if end:
            await _read(
                http,
                site,
                log,
                "sensorPackets page 2",
                PACKETS,
                {"deviceId": site.device_id, "after": end},
            )
