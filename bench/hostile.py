"""`/healthz` latency while hostile clients attack a real `microgrid serve`.

    .venv/bin/python -m bench.hostile                    # 8 s per phase
    .venv/bin/python -m bench.hostile --quick            # 3 s per phase
    .venv/bin/python -m bench.hostile --store sqlite     # default: PostgreSQL if reachable

Loopback only. The script starts its own server on a free port over a fresh
SQLite file or a fresh PostgreSQL database (dropped afterwards), seeds it with
the CLI and the API, then runs one phase with no attack and one per attack
class. Every attack is bounded in count and time and stops by itself.

The prober is a separate process (so the attackers' client CPU cannot delay
it) that fires 20 `GET /healthz` a second on a fixed schedule, each over a
fresh connection, and times each from its scheduled moment: a server that
stalls is charged for every probe it delayed, and a full accept queue shows
up as it would to a load balancer's health check. A probe unanswered after
`PROBE_TIMEOUT` seconds counts as failed, at that latency.

After each phase the script waits (at most `RECOVERY_CAP` seconds) until five
probes in a row answer within 50 ms, and reports that wait as "recovery", so
a phase does not leave its work to the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import serving
from bench.serving import ROOT, cli

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
HOST = "127.0.0.1"
PROBE_RATE = 20.0
PROBE_TIMEOUT = 30.0
RECOVERY_CAP = 180.0
PROBE_CAP = 300.0
ANSWER_CAP = 60.0
KEEP = 64 * 1024
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Z]\w*)(?::|$)")

# --- the server --------------------------------------------------------------


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def exceptions(self) -> Counter[str]:
        """The exception named at the end of each traceback in the server's log."""
        found: Counter[str] = Counter()
        previous = ""
        for line in self.log.read_text(errors="replace").splitlines():
            named = EXCEPTION_LINE.match(line)
            if previous.startswith(" ") and named and not named.group(1).isupper():
                found[named.group(1)] += 1
            previous = line
        return found


@contextlib.contextmanager
def serve(database_url: str, log: Path, env: dict[str, str]) -> Iterator[Server]:
    with serving.serve(database_url, log, **env) as running:
        yield Server(running.port, running.process, log)


@contextlib.contextmanager
def database(store: str) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty database, removed afterwards."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mgs_hostile_") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/hostile.db"
        return
    import asyncpg

    name = f"mgs_hostile_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + (
            "/" + name
        )
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_reachable() -> bool:
    try:
        import asyncpg

        async def ping() -> None:
            conn = await asyncpg.connect(ADMIN_DSN, timeout=3)
            await conn.close()

        asyncio.run(ping())
        return True
    except Exception:
        return False


# --- a raw HTTP client that counts instead of keeping ---------------------------


@dataclass
class Answer:
    status: int | None
    size: int
    head: bytes
    error: str | None = None

    def outcome(self) -> str:
        """`200`, `200 QUERY_TOO_DEEP`, `413`, `timeout`, ... for the tallies."""
        if self.status is None:
            return self.error or "no answer"
        body = self.head.split(b"\r\n\r\n", 1)[-1]
        with contextlib.suppress(ValueError, AttributeError, KeyError, IndexError, TypeError):
            errors = json.loads(body).get("errors")
            if errors:
                return f"{self.status} {errors[0].get('extensions', {}).get('code', 'error')}"
        return str(self.status)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


def post(body: bytes, token: str | None = None, content_length: int | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    length = len(body) if content_length is None else content_length
    return (
        f"POST /graphql HTTP/1.1\r\nHost: {HOST}\r\n{auth}Connection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode() + body


async def http(port: int, request: bytes, within: float) -> Answer:
    """Send one request on a fresh connection and read to EOF, keeping the first
    64 KiB; a reset while sending still reads what the server answered."""
    head, size = b"", 0
    writer = None
    try:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
            writer.write(request)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            while chunk := await reader.read(1 << 20):
                if len(head) < KEEP:
                    head += chunk[: KEEP - len(head)]
                size += len(chunk)
    except TimeoutError:
        return Answer(_status(head), size, head, "timeout")
    except OSError as exc:
        return Answer(_status(head), size, head, type(exc).__name__)
    finally:
        if writer is not None:
            writer.close()
    return Answer(_status(head), size, head, None if head else "closed")


def _status(head: bytes) -> int | None:
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


async def graphql(port: int, token: str, query: str, variables: dict[str, Any]) -> Any:
    answer = await http(
        port, post(json.dumps({"query": query, "variables": variables}).encode(), token), 60
    )
    return json.loads(answer.head.split(b"\r\n\r\n", 1)[1])


# --- the prober (a child process) -------------------------------------------------


async def probe(port: int, start_at: float) -> list[tuple[float, bool]]:
    """(latency from the scheduled moment, answered 200) per probe, fired until
    stdin closes (the attack is over) or PROBE_CAP seconds have passed."""
    loop = asyncio.get_running_loop()
    begin = loop.time() + max(0.0, start_at - time.time())
    stopped = loop.run_in_executor(None, sys.stdin.read)
    results: list[tuple[float, bool]] = []

    async def one(at: float) -> None:
        await asyncio.sleep(max(0.0, at - loop.time()))
        answer = await http(port, get("/healthz"), PROBE_TIMEOUT)
        results.append((loop.time() - at, answer.status == 200))

    probes: list[asyncio.Future[None]] = []
    while not stopped.done() and len(probes) < PROBE_CAP * PROBE_RATE:
        at = begin + len(probes) / PROBE_RATE
        probes.append(asyncio.ensure_future(one(at)))
        await asyncio.wait({stopped}, timeout=max(0.0, at - loop.time()))
    await asyncio.gather(*probes)
    return results


def start_prober(port: int, start_at: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.hostile", "--probe", str(port), str(start_at)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


# --- the attacks --------------------------------------------------------------------


@dataclass
class Target:
    port: int
    operator: str
    admin: str
    integration: str
    device_id: str
    depot_id: str
    max_body: int
    aliases: int
    frame_bytes: int
    packets: int = 0
    packet_bytes: int = 0


@dataclass
class Tally:
    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        answered = ", ".join(f"{k} x{v}" for k, v in self.outcomes.most_common())
        return "; ".join([f"{self.sent} sent: {answered}", *self.notes])


async def senders(
    count: int, deadline: float, send: Callable[[int, float], Awaitable[None]]
) -> None:
    """`count` loops each calling `send(n, wait)` until the deadline; a request
    sent before it may wait up to ANSWER_CAP seconds for its answer."""
    loop = asyncio.get_running_loop()
    numbers = iter(range(10**9))

    async def sender() -> None:
        while deadline - loop.time() > 0.05:
            await send(next(numbers), ANSWER_CAP)

    await asyncio.gather(*(sender() for _ in range(count)))


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


async def attack_slow_sockets(
    t: Target, seconds: float, trickle: int = 200, silent: int = 50, slow_body: int = 50
) -> Tally:
    """Trickle a header line every 2 s, send nothing, or trickle a declared body;
    report how many sockets the server still held at the end."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    started = loop.time()
    tally = Tally()
    closed_after: list[float] = []

    async def hold(kind: str, i: int) -> None:
        try:
            reader, writer = await asyncio.open_connection(HOST, t.port)
        except OSError as exc:
            tally.outcomes[f"{kind}: connect {type(exc).__name__}"] += 1
            return
        tally.sent += 1
        if kind == "trickle":
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\n".encode())
        elif kind == "slow body":
            writer.write(post(b"", t.operator, content_length=t.max_body))
        read = asyncio.ensure_future(reader.read(KEEP))
        try:
            line = 0
            while loop.time() < deadline:
                done, _ = await asyncio.wait({read}, timeout=min(2.0, deadline - loop.time()))
                if done:
                    status = _status(read.result()) if not read.exception() else None
                    tally.outcomes[f"{kind}: closed by server ({status or 'no answer'})"] += 1
                    closed_after.append(loop.time() - started)
                    return
                line += 1
                if kind == "trickle":
                    writer.write(f"X-Slow-{line}: {i}\r\n".encode())
                elif kind == "slow body":
                    writer.write(b" ")
            tally.outcomes[f"{kind}: still open"] += 1
        except OSError as exc:
            tally.outcomes[f"{kind}: {type(exc).__name__}"] += 1
            closed_after.append(loop.time() - started)
        finally:
            read.cancel()
            writer.close()

    kinds = ["trickle"] * trickle + ["silent"] * silent + ["slow body"] * slow_body
    await asyncio.gather(*(hold(kind, i) for i, kind in enumerate(kinds)))
    if closed_after:
        tally.notes.append(
            f"server closed them after median {statistics.median(closed_after):.1f} s"
        )
    return tally


CARD_SUB = "subscription ($d: ID!) { microgridCard(depotId: $d) { reason } }"


def _reply(message: dict[str, Any]) -> str:
    if message.get("type") == "error":
        errors = message.get("payload") or [{}]
        return f"error {errors[0].get('extensions', {}).get('code') or errors[0].get('message')}"
    return str(message.get("type"))


async def attack_frames(t: Target, seconds: float, pre: int = 3, post_ack: int = 2) -> Tally:
    """WebSocket frames of `frame_bytes`: `connection_init` before any ack, and
    `subscribe` after a valid one. No compression, so the bytes are on the wire."""
    import websockets
    from websockets.typing import Subprotocol

    url = f"ws://{HOST}:{t.port}/graphql"
    junk = "x" * t.frame_bytes
    tally = Tally(
        notes=[
            f"{t.frame_bytes / 2**20:.1f} MiB frames, {pre} clients before the ack, "
            f"{post_ack} after"
        ]
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def connect() -> Any:
        return await websockets.connect(
            url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            compression=None,
            max_size=None,
            open_timeout=10,
            close_timeout=2,
            ping_interval=None,
        )

    def closed(kind: str, exc: BaseException) -> None:
        code = getattr(getattr(exc, "rcvd", None), "code", None)
        tally.outcomes[f"{kind}: close {code}" if code else f"{kind}: {type(exc).__name__}"] += 1

    async def before_ack(_n: int, wait: float) -> None:
        tally.sent += 1
        try:
            async with asyncio.timeout(wait):
                ws = await connect()
                try:
                    await ws.send(
                        json.dumps(
                            {
                                "type": "connection_init",
                                "payload": {"Authorization": f"Bearer {t.operator}", "junk": junk},
                            }
                        )
                    )
                    tally.outcomes[f"init: {_reply(json.loads(await ws.recv()))}"] += 1
                finally:
                    await ws.close()
        except TimeoutError:
            tally.outcomes["init: timeout"] += 1
        except (websockets.ConnectionClosed, OSError, websockets.InvalidHandshake) as exc:
            closed("init", exc)

    async def after_ack(n: int, wait: float) -> None:
        try:
            async with asyncio.timeout(wait):
                ws = await connect()
                try:
                    await ws.send(
                        json.dumps(
                            {
                                "type": "connection_init",
                                "payload": {"Authorization": f"Bearer {t.operator}"},
                            }
                        )
                    )
                    await ws.recv()
                    while loop.time() < deadline:
                        tally.sent += 1
                        await ws.send(
                            json.dumps(
                                {
                                    "id": f"{n}-{tally.sent}",
                                    "type": "subscribe",
                                    "payload": {
                                        "query": CARD_SUB,
                                        "variables": {"d": t.depot_id, "junk": junk},
                                    },
                                }
                            )
                        )
                        reply = json.loads(await ws.recv())
                        tally.outcomes[f"subscribe: {_reply(reply)}"] += 1
                finally:
                    await ws.close()
        except TimeoutError:
            tally.outcomes["subscribe: timeout"] += 1
        except (websockets.ConnectionClosed, OSError, websockets.InvalidHandshake) as exc:
            closed("subscribe", exc)

    await asyncio.gather(senders(pre, deadline, before_ack), senders(post_ack, deadline, after_ack))
    return tally


async def no_attack(_t: Target, seconds: float) -> Tally:
    await asyncio.sleep(seconds)
    return Tally()


# (name, attack, least seconds): slow sockets outlast a plausible header timeout.
ATTACKS: list[tuple[str, Callable[[Target, float], Awaitable[Tally]], float]] = [
    ("baseline (no attack)", no_attack, 0),
    ("fragment bomb", attack_fragments, 0),
    ("largest allowed body", attack_bodies, 0),
    ("maximal response", attack_response, 0),
    ("slow sockets", attack_slow_sockets, 15),
    ("big frames", attack_frames, 0),
]


# --- phases ------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    latencies_ms: list[float]
    failed: int
    rss_before: float
    rss_peak: float
    rss_after: float
    recovery_s: float
    tracebacks: Counter[str]
    tally: Tally

    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("nan")


async def recover(port: int) -> float:
    """Seconds until five probes in a row answer within 50 ms (at most RECOVERY_CAP)."""
    loop = asyncio.get_running_loop()
    start, good = loop.time(), 0
    while good < 5 and loop.time() - start < RECOVERY_CAP:
        began = loop.time()
        answer = await http(port, get("/healthz"), 10)
        good = good + 1 if answer.status == 200 and loop.time() - began < 0.05 else 0
        await asyncio.sleep(0.05)
    return loop.time() - start


async def run_phase(
    server: Server,
    target: Target,
    name: str,
    attack: Callable[[Target, float], Awaitable[Tally]],
    seconds: float,
) -> Phase:
    traces = server.exceptions()
    rss_before = server.rss_mib()
    start_at = time.time() + 1.0
    prober = start_prober(server.port, start_at)
    peak = rss_before
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            with contextlib.suppress(OSError):
                peak = max(peak, server.rss_mib())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    sampler = asyncio.ensure_future(sample())
    await asyncio.sleep(max(0.0, start_at - time.time()))
    began = time.monotonic()
    tally = await attack(target, seconds)
    tally.notes.append(f"ran {time.monotonic() - began:.1f} s")
    out, _ = await asyncio.to_thread(prober.communicate, "")
    recovery = await recover(server.port)
    stop.set()
    await sampler
    samples = json.loads(out)
    return Phase(
        name,
        [latency * 1e3 for latency, _ok in samples],
        sum(1 for _latency, ok in samples if not ok),
        rss_before,
        peak,
        server.rss_mib(),
        recovery,
        server.exceptions() - traces,
        tally,
    )


def _tracebacks(found: Counter[str]) -> str:
    return ", ".join(f"{v} {k}" for k, v in found.most_common()) or "0"


def table(phases: list[Phase]) -> str:
    base = phases[0].p99()
    rows = [
        "| phase | probes (failed) | median ms | p99 ms | max ms | p99 / baseline | "
        "RSS MiB before / peak / after | recovery s | tracebacks | what the attack did |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        lat = p.latencies_ms or [float("nan")]
        rows.append(
            f"| {p.name} | {len(p.latencies_ms)} ({p.failed}) | {statistics.median(lat):.1f} | "
            f"{p.p99():.1f} | {max(lat):.1f} | {p.p99() / base:.1f}x | "
            f"{p.rss_before:.0f} / {p.rss_peak:.0f} / {p.rss_after:.0f} | {p.recovery_s:.1f} | "
            f"{_tracebacks(p.tracebacks)} | {p.tally if p.name != phases[0].name else '-'} |"
        )
    return "\n".join(rows)


def setup(url: str) -> tuple[str, dict[str, str]]:
    """The demo depot and one token per role, made by the CLI."""
    cli(url, "migrate")
    out = cli(url, "demo").splitlines()
    depot = out[0].split()[2]
    tokens = {line.split()[0]: line.split()[-1] for line in out[1:] if "token:" in line}
    return depot, tokens


async def attack_all(server: Server, target: Target, seconds: float, only: set[str]) -> list[Phase]:
    phases = []
    for name, attack, least in ATTACKS:
        if only and name != ATTACKS[0][0] and not any(o in name for o in only):
            continue
        print(f"  {name} ...", file=sys.stderr, flush=True)
        phases.append(await run_phase(server, target, name, attack, max(seconds, least)))
    return phases


async def prepare(
    server: Server, depot: str, tokens: dict[str, str], args: argparse.Namespace
) -> Target:
    found = await graphql(
        server.port,
        tokens["admin"],
        "query ($d: ID!) { depot(id: $d) { devices { id } } }",
        {"d": depot},
    )
    target = Target(
        port=server.port,
        operator=tokens["operator"],
        admin=tokens["admin"],
        integration=tokens["integration"],
        device_id=found["data"]["depot"]["devices"][0]["id"],
        depot_id=depot,
        max_body=args.max_body_bytes,
        aliases=args.aliases,
        frame_bytes=int(args.frame_mib * 2**20),
    )
    await seed_packets(target, args.packets)
    return target


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--probe":
        print(json.dumps(asyncio.run(probe(int(sys.argv[2]), float(sys.argv[3])))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql"])
    parser.add_argument("--quick", action="store_true", help="3 s phases, 8 packets")
    parser.add_argument("--seconds", type=float, help="per phase (default 8, quick 3)")
    parser.add_argument(
        "--packets",
        type=int,
        help="packets stored, most of the biggest size accepted (default 20, quick 8)",
    )
    parser.add_argument("--max-body-bytes", type=int, default=262_144)
    parser.add_argument("--aliases", type=int, default=30, help="the server's MAX_ALIASES")
    parser.add_argument("--frame-mib", type=float, default=15.0)
    parser.add_argument("--only", action="append", default=[], help="run these attacks only")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    args.packets = args.packets or (8 if args.quick else 20)
    store = args.store or ("postgresql" if postgres_reachable() else "sqlite")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    env = {
        "ACCESS_LOG": "false",
        "MAX_BODY_BYTES": str(args.max_body_bytes),
        "MAX_ALIASES": str(args.aliases),
    }
    with database(store) as url, tempfile.TemporaryDirectory(prefix="mgs_hostile_log_") as logs:
        depot, tokens = setup(url)
        with serve(url, Path(logs) / "serve.log", env) as server:
            print(f"hostile: {store}, {seconds:g} s per phase, commit {commit}", file=sys.stderr)

            async def run() -> list[Phase]:
                target = await prepare(server, depot, tokens, args)
                return await attack_all(server, target, seconds, set(args.only))

            phases = asyncio.run(run())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{store}, {seconds:g} s per phase, {PROBE_RATE:g} probes/s, commit {commit}, {when}\n")
    print(table(phases))


if __name__ == "__main__":
    main()
