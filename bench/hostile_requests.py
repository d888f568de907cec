"""The attacks made of requests: a fragment bomb, bodies of the largest
allowed size, and the read with the largest answer (over packets of the
largest accepted size, stored first); and the phase with no attack."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any

from bench.hostile_http import graphql, http, post
from bench.hostile_target import Tally, Target, senders


def fragment_bomb(depth: int) -> str:
    """`...F0`, each fragment spreading the next twice: 2**depth paths, fresh names."""
    tag = secrets.token_hex(4)
    parts = [f"query{{...F{tag}0}}"]
    parts += [
        f"fragment F{tag}{i} on Query{{...F{tag}{i + 1} ...F{tag}{i + 1}}}" for i in range(depth)
    ]
    parts.append(f"fragment F{tag}{depth} on Query{{viewer{{role}}}}")
    return " ".join(parts)


async def attack_fragments(t: Target, seconds: float, depth: int = 20, count: int = 4) -> Tally:
    tally = Tally(notes=[f"{len(fragment_bomb(depth))}-byte documents, {count} senders"])
    deadline = asyncio.get_running_loop().time() + seconds

    async def send(_n: int, wait: float) -> None:
        tally.sent += 1
        body = json.dumps({"query": fragment_bomb(depth)}).encode()
        tally.outcomes[(await http(t.port, post(body, t.operator), wait)).outcome()] += 1

    await senders(count, deadline, send)
    return tally


STRING_QUERY = "query ($s: ID!) { depot(id: $s) { id } }"
LIST_QUERY = "mutation ($i: CreateDepotInput!) { createDepot(input: $i) { __typename } }"


def body_of_size(size: int, kind: str) -> bytes:
    """Valid JSON of exactly `size` bytes, topped up with whitespace: a depot id
    that is one long string, or (from an operator, who may not create depots)
    a new depot with as many top-level circuits as fit."""
    if kind == "string":
        fixed = len(json.dumps({"query": STRING_QUERY, "variables": {"s": ""}}))
        body = json.dumps({"query": STRING_QUERY, "variables": {"s": "x" * (size - fixed)}})
    else:
        item = '{"name": "c"}'
        head = json.dumps({"query": LIST_QUERY}).rstrip("}") + ', "variables": {"i": {"name": "d", '
        head += '"topLevelCircuits": ['
        items = (size - len(head) - 4) // (len(item) + 2)
        body = head + ", ".join([item] * items) + "]}}}"
    return body.encode() + b" " * (size - len(body))


async def attack_bodies(t: Target, seconds: float, count: int = 3) -> Tally:
    bodies = {
        "string": body_of_size(t.max_body, "string"),
        "list": body_of_size(t.max_body, "list"),
        "over": body_of_size(t.max_body + 1024, "string"),
    }
    assert all(len(b) == t.max_body for k, b in bodies.items() if k != "over")
    tally = Tally(
        notes=[
            f"bodies of {t.max_body} bytes (a string; "
            f"{bodies['list'].count(b'name') - 1:,} list items) "
            f"and {t.max_body + 1024} bytes, {count} senders"
        ]
    )
    deadline = asyncio.get_running_loop().time() + seconds
    kinds = list(bodies)

    async def send(n: int, wait: float) -> None:
        kind = kinds[n % len(kinds)]
        tally.sent += 1
        answer = await http(t.port, post(bodies[kind], t.operator), wait)
        tally.outcomes[f"{kind}: {answer.outcome()}"] += 1

    await senders(count, deadline, send)
    return tally


def packet(device_id: str, n: int, junk: int) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "timestamp": int(time.time() * 1000) - 10**7 + n,
        "manufacturer": "BBA",
        "model": None,
        "serial_number": None,
        "sensors": [
            {"sensor_id": "mgc", "measurands": [{"key": "SOC", "value": 50.0, "unit": None}]}
        ],
        "junk": "x" * junk,
    }


INGEST = """mutation ($p: JSON!) { ingestSensorPacket(packet: $p) { __typename } }"""


async def seed_packets(t: Target, count: int) -> None:
    """Find the biggest packet the service accepts (by bisection on the junk
    string, at most the body cap) and store `count` of them."""
    n = 0

    async def accepted(junk: int) -> bool:
        nonlocal n
        n += 1
        answer = await graphql(t.port, t.integration, INGEST, {"p": packet(t.device_id, n, junk)})
        ok = (answer.get("data") or {}).get("ingestSensorPacket", {}).get(
            "__typename"
        ) == "SensorPacketIngested"
        t.packets += ok
        return ok

    low, high = 0, t.max_body
    if not await accepted(low):
        raise RuntimeError("the service refuses even a small packet")
    while high - low > 1024:
        middle = (low + high) // 2
        low, high = (middle, high) if await accepted(middle) else (low, middle)
    while t.packets < count:
        if not await accepted(low):
            raise RuntimeError("a packet accepted once was refused")
    t.packet_bytes = low


def maximal_read(t: Target) -> str:
    fields = " ".join(
        f"a{i}: sensorPackets(deviceId: $d, first: 100) {{ edges {{ node {{ id packet }} }} }}"
        for i in range(t.aliases)
    )
    return f"query ($d: ID!) {{ {fields} }}"


async def attack_response(t: Target, seconds: float, count: int = 2) -> Tally:
    body = json.dumps({"query": maximal_read(t), "variables": {"d": t.device_id}}).encode()
    sizes: list[int] = []
    tally = Tally(
        notes=[
            f"{t.aliases} aliases x sensorPackets(first: 100) over {t.packets} stored packets "
            f"(most with {t.packet_bytes / 2**20:.2f} MiB of junk), {count} senders"
        ]
    )
    deadline = asyncio.get_running_loop().time() + seconds

    async def send(_n: int, wait: float) -> None:
        tally.sent += 1
        answer = await http(t.port, post(body, t.admin), wait)
        tally.outcomes[answer.outcome()] += 1
        sizes.append(answer.size)

    await senders(count, deadline, send)
    if sizes:
        tally.notes.append(f"largest answer {max(sizes) / 2**20:,.1f} MiB")
    return tally


async def no_attack(_t: Target, seconds: float) -> Tally:
    await asyncio.sleep(seconds)
    return Tally()
