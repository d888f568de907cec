"""Redis Sentinel: the master is killed under ingest, the sentinels promote the
replica, and nothing is lost (issue 18, DESIGN §3-§4).

Two `microgrid serve` processes share one fresh PostgreSQL database and name
the Sentinel set in REDIS_URL; live cards are open on both while an ingest
loop posts to both. After the master is SIGKILLed and the failover completes
(the sentinels announce +switch-master), every open card equals the database
within CONVERGE_SECONDS (the issue's bound), both processes' publisher and
subscriber are on the promoted master, and every observation is stored
exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio

from domain.access import Role
from persistence.database import create_engine
from persistence.tokens import TokenStore
from tests.e2e.sentinel_set import SentinelSet
from tests.e2e.server import RunningServer, serve
from tests.support import services
from tests.support.ws import WsClient

pytestmark = pytest.mark.e2e

CONVERGE_SECONDS = 10
RESEND_EVERY = 5
CHANNEL = "microgrid:changes"
CREATE = """mutation ($name: String!) { createDepot(input: {name: $name,
  topLevelCircuits: [{name: "F"}]}) {
  ... on CreateDepotSuccess { depot { id } microgrid { id } } } }"""
RECORD = """mutation ($i: RecordCapabilityStatusInput!) { recordCapabilityStatus(input: $i) {
  __typename ... on CapabilityStatusRecorded { duplicate } } }"""
CARD_FIELDS = "revision der { status observedAt } peakShaving { status observedAt }"
CARD_SUB = f"""subscription ($depotId: ID!) {{ microgridCard(depotId: $depotId) {{
  reason card {{ {CARD_FIELDS} }} }} }}"""
CARD_QUERY = f"""query ($depotId: ID!) {{ microgridCard(depotId: $depotId) {{
  ... on MicrogridCard {{ {CARD_FIELDS} }} }} }}"""


@contextlib.contextmanager
def _fresh_postgres() -> Iterator[str]:
    """A new migrated database of this test's own, dropped afterwards."""
    with services.fresh_postgres() as (url, _dsn):
        yield url


@dataclass
class Screen:
    """One open card subscription: the last card it showed."""

    process: str
    depot_id: str
    ws: WsClient
    changed: asyncio.Event
    """Shared by every screen: set on each update any of them receives."""
    card: dict[str, Any] | None = None

    async def follow(self) -> None:
        while True:
            update = (await self.ws.data(timeout=60))["microgridCard"]
            self.card = update["card"]
            self.changed.set()


@dataclass
class Ingest:
    """Posts observations with distinct providerEventRefs, alternating between
    the two processes; a retryable failure is retried with the same
    observation (same ref, same content) until accepted, and every
    RESEND_EVERY-th accepted one is sent once more to the other process."""

    targets: list[str]
    token: str
    microgrids: list[str]
    accepted: dict[str, int] = field(default_factory=dict)
    """providerEventRef -> attempts it took."""
    resent: set[str] = field(default_factory=set)
    """Accepted observations sent once more, as if the first answer was lost."""
    duplicates: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, http: httpx.AsyncClient) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            ref = f"sentinel-{n}"
            variables = {
                "i": {
                    "microgridId": self.microgrids[n % len(self.microgrids)],
                    "capability": ("DER", "PEAK_SHAVING")[(n // 2) % 2],
                    "value": n % 3 != 0,
                    "observedAt": datetime.now(UTC).isoformat(),
                    "providerEventRef": ref,
                }
            }
            attempts, deadline = 0, time.monotonic() + 30
            while True:
                attempts += 1
                assert time.monotonic() < deadline, f"{ref} not accepted in 30 s: {self.failures}"
                url = self.targets[(n + attempts) % len(self.targets)]
                if await self._post(http, url, variables):
                    break
                await asyncio.sleep(0.1)  # a client's back-off before its retry
            if n % RESEND_EVERY == 0:
                # as a client whose answer was lost: the same observation again, elsewhere
                url = self.targets[(n + attempts + 1) % len(self.targets)]
                while not await self._post(http, url, variables):
                    assert time.monotonic() < deadline, f"{ref} re-send: {self.failures}"
                    await asyncio.sleep(0.1)
                self.resent.add(ref)
            self.accepted[ref] = attempts
            self.progress.set()
            await asyncio.sleep(0.02)  # pacing: a steady trickle, not a flood

    async def _post(self, http: httpx.AsyncClient, url: str, variables: dict[str, Any]) -> bool:
        try:
            response = await http.post(
                url,
                json={"query": RECORD, "variables": variables},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.TransportError as error:
            self.failures.append(type(error).__name__)
            return False
        body = response.json()
        errors = body.get("errors") or []
        if response.status_code == 200 and not errors:
            result = body["data"]["recordCapabilityStatus"]
            assert result["__typename"] == "CapabilityStatusRecorded", result
            if result["duplicate"]:
                self.duplicates.append(variables["i"]["providerEventRef"])
            return True
        assert all(e.get("extensions", {}).get("retryable") for e in errors), body
        self.failures.append(
            ",".join(e["extensions"]["code"] for e in errors) or f"HTTP {response.status_code}"
        )
        return False

    async def until(self, count: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while len(self.accepted) < count:
            self.progress.clear()
            try:
                await asyncio.wait_for(self.progress.wait(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise AssertionError(
                    f"{len(self.accepted)} observations accepted, not {count}, "
                    f"within {seconds:.0f} s; failures: {self.failures}"
                ) from None


def test_killing_the_redis_master_loses_nothing_and_every_card_converges(tmp_path, fault_report):
    engines = SentinelSet(tmp_path)
    with ThreadPoolExecutor(3) as pool, contextlib.ExitStack() as stack:
        stack.callback(engines.stop)
        # side by side: the engines start while the servers start (and wait for them)
        started = pool.submit(engines.start)
        stack.callback(wait, [started])  # stopped only once started
        database_url = stack.enter_context(_fresh_postgres())
        token = asyncio.run(_admin_token(database_url))
        env = {"REDIS_URL": engines.url, "REDIS_CHANNEL": CHANNEL}
        a, b = stack.enter_context(_serving_together(pool, database_url, tmp_path, env))
        started.result()
        report = asyncio.run(_failover_under_ingest(engines, a, b, token, database_url))
    print(report)
    fault_report(str(report))


async def _admin_token(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        return (await TokenStore(engine).issue(Role.ADMIN, (), datetime.now(UTC))).token
    finally:
        await engine.dispose()


@contextlib.contextmanager
def _serving_together(
    pool: ThreadPoolExecutor, database_url: str, tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two `microgrid serve` processes, started side by side; each is ready
    once its subscriber has found the master through the sentinels."""
    managers = [serve(database_url, log=tmp_path / f"serve-{n}.log", **env) for n in "ab"]
    entering = [pool.submit(manager.__enter__) for manager in managers]
    wait(entering)
    try:
        a, b = (future.result() for future in entering)
        yield a, b
    finally:
        leaving = [
            pool.submit(manager.__exit__, None, None, None)
            for manager, future in zip(managers, entering, strict=True)
            if future.exception() is None
        ]
        for future in leaving:
            future.result()


async def _gql(http: httpx.AsyncClient, url: str, token: str, query: str, variables: Any) -> Any:
    response = await http.post(
        url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


async def _failover_under_ingest(
    engines: SentinelSet, a: RunningServer, b: RunningServer, token: str, database_url: str
) -> str:
    servers = {"A": a, "B": b}
    async with httpx.AsyncClient(timeout=15) as http:
        depots, microgrids = [], []
        for name in ("Sentinel North", "Sentinel South"):
            created = (await _gql(http, a.url, token, CREATE, {"name": name}))["createDepot"]
            depots.append(created["depot"]["id"])
            microgrids.append(created["microgrid"]["id"])

        screens, changed = [], asyncio.Event()
        for process, server in servers.items():
            for depot_id in depots:
                ws = await WsClient.connect(server.base, token)
                await ws.subscribe(CARD_SUB, {"depotId": depot_id})
                screens.append(Screen(process, depot_id, ws, changed))
        followers = [asyncio.create_task(screen.follow()) for screen in screens]

        ingest = Ingest([a.url, b.url], token, microgrids)
        ingesting = asyncio.create_task(ingest.run(http))
        try:
            await ingest.until(5, seconds=30)
            accepted_before_kill = len(ingest.accepted)
            killed_at = time.monotonic()
            switched = await _kill_master_and_wait_for_the_switch(engines)
            failover_done = time.monotonic()
            accepted_without_master = len(ingest.accepted) - accepted_before_kill
            await ingest.until(len(ingest.accepted) + 10, seconds=CONVERGE_SECONDS)
        finally:
            ingest.stop.set()
            await ingesting
        last_write = time.monotonic()

        database_cards = {
            depot_id: (await _gql(http, a.url, token, CARD_QUERY, {"depotId": depot_id}))[
                "microgridCard"
            ]
            for depot_id in depots
        }
        await _every_card_equals_the_database(
            screens, changed, database_cards, failover_done + CONVERGE_SECONDS
        )
        converged = time.monotonic()
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        for screen in screens:
            await screen.ws.close()

        # both processes' publisher and subscriber followed the failover
        await _redis_ready(http, servers, deadline=time.monotonic() + CONVERGE_SECONDS)
        subscribers = await _subscribers_on(switched)

    stored = await _stored(database_url.replace("+asyncpg", ""), microgrids)
    retried = {ref: n for ref, n in ingest.accepted.items() if n > 1}
    keys = {
        f"{capability}:{ref}" for ref in ingest.accepted for capability in ("DER", "PEAK_SHAVING")
    }
    once = {key for key, count in stored.items() if count == 1}
    assert set(stored) <= keys, "no event the clients did not post"
    assert len(stored) == len(ingest.accepted), "every accepted observation is stored"
    assert once == set(stored), "each exactly once, retried ones included"
    assert ingest.resent <= set(ingest.duplicates) <= ingest.resent | set(retried), (
        "a re-sent observation is answered duplicate: true, and only a re-sent one"
    )
    assert accepted_without_master > 0, "ingest kept committing while Redis had no master"
    assert subscribers == 2, "both processes' subscriber connections are on the promoted master"

    return (
        f"Redis Sentinel failover: the master was SIGKILLed, +switch-master (to port "
        f"{switched}) arrived {failover_done - killed_at:.2f} s later "
        f"({accepted_without_master} observations accepted meanwhile); every open "
        f"card ({len(screens)} on 2 processes) equalled the database "
        f"{converged - failover_done:.2f} s after the failover completed "
        f"({max(converged - last_write, 0):.2f} s after the last write). Ingest: "
        f"{len(ingest.accepted)} observations accepted ({len(retried)} after a retry, "
        f"{len(ingest.resent)} sent twice and answered duplicate, "
        f"{len(ingest.failures)} failed attempts: {sorted(set(ingest.failures))}), "
        f"{len(stored)} events stored, lost 0, duplicated 0."
    )


async def _kill_master_and_wait_for_the_switch(engines: SentinelSet) -> int:
    """SIGKILLs the master; returns the promoted master's port once a sentinel
    announces +switch-master (and the sentinels answer with it)."""
    listeners = [
        redis.asyncio.Redis(host="127.0.0.1", port=port) for port in engines.sentinel_ports
    ]
    pubsubs = [listener.pubsub(ignore_subscribe_messages=True) for listener in listeners]
    try:
        for pubsub in pubsubs:
            await pubsub.subscribe("+switch-master")

        async def announced(pubsub: Any) -> bytes:
            while True:
                message = await pubsub.get_message(timeout=30)
                if message is not None:
                    return bytes(message["data"])

        old = engines.master_port
        await asyncio.to_thread(engines.kill, old)
        waits = [asyncio.create_task(announced(pubsub)) for pubsub in pubsubs]
        done, pending = await asyncio.wait(waits, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        assert done, "the sentinels did not fail over within 30 s"
        # "<service> <old-ip> <old-port> <new-ip> <new-port>"
        new_port = int(done.pop().result().split()[-1])
        assert new_port == engines.replica_port
        assert await asyncio.to_thread(engines.master_address) == ("127.0.0.1", new_port)
        return new_port
    finally:
        for pubsub in pubsubs:
            await pubsub.aclose()
        for listener in listeners:
            await listener.aclose()


async def _every_card_equals_the_database(
    screens: list[Screen], changed: asyncio.Event, database_cards: dict[str, Any], deadline: float
) -> None:
    while True:
        changed.clear()
        behind = [s for s in screens if s.card != database_cards[s.depot_id]]
        if not behind:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), max(deadline - time.monotonic(), 0))
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"cards still differ from the database {CONVERGE_SECONDS} s after the failover: "
                + "; ".join(
                    f"{s.process}: {s.card} != {database_cards[s.depot_id]}" for s in behind
                )
            )


async def _redis_ready(
    http: httpx.AsyncClient, servers: dict[str, RunningServer], deadline: float
) -> None:
    """/readyz's redis check: the publisher answers a PING on the promoted master
    and the subscriber is connected. Polled: nothing announces it."""
    for name, server in servers.items():
        while True:
            checks = (await http.get(f"{server.base}/readyz")).json()["checks"]
            if checks.get("redis") == "ok":
                break
            assert time.monotonic() < deadline, f"process {name}: {checks}"
            await asyncio.sleep(0.1)


async def _subscribers_on(port: int) -> int:
    client = redis.asyncio.Redis(host="127.0.0.1", port=port)
    try:
        [(_, count)] = await client.pubsub_numsub(CHANNEL)
        return int(count)
    finally:
        await client.aclose()


async def _stored(dsn: str, microgrids: list[str]) -> dict[str, int]:
    """idempotency key ("<capability>:<providerEventRef>") -> events stored with it;
    also checks each stream's sequence is gap-free."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT stream_id, sequence, idempotency_key FROM events "
            "WHERE stream_id = ANY($1::uuid[]) ORDER BY stream_id, sequence",
            [uuid.UUID(m) for m in microgrids],
        )
    finally:
        await conn.close()
    counts: dict[str, int] = {}
    for stream, group in itertools.groupby(rows, key=lambda r: r["stream_id"]):
        sequences = []
        for row in group:
            sequences.append(row["sequence"])
            counts[row["idempotency_key"]] = counts.get(row["idempotency_key"], 0) + 1
        assert sequences == list(range(1, len(sequences) + 1)), f"gap in stream {stream}"
    return counts
