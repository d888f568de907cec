"""Two server processes on a real Redis Cluster with sharded pub/sub (issue 18):
a notice reaches only the processes that follow its microgrid, and killing a
shard's primary (its replica takes over) loses nothing (DESIGN §3)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.crc import key_slot

from bench.redis_cluster import RedisClusterNodes
from domain.access import Role
from persistence.database import create_engine
from persistence.tokens import TokenStore
from tests.e2e.server import serve
from tests.e2e.test_scale_out import _status
from tests.support import services
from tests.support.redis_cluster import running_cluster
from tests.support.ws import WsClient

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

MICROGRIDS = 50
CARD_SUB = """subscription ($depotId: ID!) { microgridCard(depotId: $depotId) {
  reason card { revision der { status } } } }"""
CREATE = """mutation ($name: String!) { createDepot(input: {name: $name,
  topLevelCircuits: [{name: "F"}]}) {
  ... on CreateDepotSuccess { depot { id } microgrid { id } } } }"""
RECORD = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisClusterNodes]:
    with running_cluster(tmp_path, masters=3, replicas=1) as nodes:
        yield nodes


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL, asyncpg DSN) of a fresh, migrated PostgreSQL database."""
    with services.fresh_postgres() as database:
        yield database


async def _tokens(url: str, *roles: Role) -> list[str]:
    engine = create_engine(url)
    try:
        store = TokenStore(engine)
        return [(await store.issue(role, (), datetime.now(UTC))).token for role in roles]
    finally:
        await engine.dispose()


async def _notices(http: httpx.AsyncClient, base: str) -> int:
    text = (await http.get(f"{base}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("microgrid_broker_notices_"))
    return int(float(line.split()[-1]))


class Card:
    """One open card subscription and the newest revision it has shown."""

    def __init__(self, microgrid_id: str) -> None:
        self.microgrid_id, self.revision = microgrid_id, -1
        self.changed = asyncio.Event()


class CardSocket:
    """Up to ``PER_SOCKET`` card subscriptions on one WebSocket."""

    PER_SOCKET = 20

    def __init__(self, ws: WsClient) -> None:
        self.ws = ws
        self.cards: dict[str, Card] = {}
        self.task = asyncio.create_task(self._read())

    async def open(self, depot_id: str, microgrid_id: str) -> Card:
        card = Card(microgrid_id)
        self.cards[await self.ws.subscribe(CARD_SUB, {"depotId": depot_id})] = card
        return card

    async def _read(self) -> None:
        while True:
            message = json.loads(await self.ws.ws.recv())
            if message["type"] == "ping":
                await self.ws.ws.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                assert not message["payload"].get("errors"), message
                card = self.cards[message["id"]]
                card.revision = message["payload"]["data"]["microgridCard"]["card"]["revision"]
                card.changed.set()

    async def close(self) -> None:
        self.task.cancel()
        await self.ws.close()


async def _open_cards(base: str, token: str, depots: list[tuple[str, str]]) -> list[Card]:
    """A card subscription per depot, every snapshot shown."""
    sockets = [
        CardSocket(await WsClient.connect(base, token))
        for _ in range(0, len(depots), CardSocket.PER_SOCKET)
    ]
    cards = [
        await sockets[n // CardSocket.PER_SOCKET].open(depot_id, microgrid_id)
        for n, (depot_id, microgrid_id) in enumerate(depots)
    ]
    await asyncio.wait_for(asyncio.gather(*(c.changed.wait() for c in cards)), 20)
    OPEN_SOCKETS.extend(sockets)
    return cards


OPEN_SOCKETS: list[CardSocket] = []


async def _revisions(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT id::text AS id, revision FROM microgrids")
    finally:
        await conn.close()
    return {r["id"]: int(r["revision"]) for r in rows}


async def _stored(dsn: str, refs: list[str]) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT r, (SELECT count(*) FROM events WHERE idempotency_key LIKE '%' || r) AS n "
            "FROM unnest($1::text[]) AS r",
            refs,
        )
    finally:
        await conn.close()
    return {row["r"]: int(row["n"]) for row in rows}


def test_notices_reach_only_followers_and_a_killed_primary_loses_nothing(
    cluster, database, fault_report
):
    url, dsn = database
    env = {"REDIS_URL": cluster.url, "REDIS_CHANNEL": f"test:{uuid.uuid4().hex}"}
    admin, ingest, operator = asyncio.run(_tokens(url, Role.ADMIN, Role.INTEGRATION, Role.OPERATOR))
    with serve(url, **env) as a, serve(url, **env) as b:
        asyncio.run(_scenario(cluster, dsn, a.url, b.url, admin, ingest, operator, fault_report))


async def _scenario(cluster, dsn, a_url, b_url, admin, ingest, operator, fault_report) -> None:
    bases = [a_url.removesuffix("/graphql"), b_url.removesuffix("/graphql")]
    async with httpx.AsyncClient(timeout=30) as http:

        async def gql(target: str, token: str, query: str, variables: dict) -> dict:
            response = await http.post(
                target,
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            body = response.json()
            assert not body.get("errors"), body
            return dict(body["data"])

        made = await asyncio.gather(
            *(gql(a_url, admin, CREATE, {"name": f"Cluster {n}"}) for n in range(MICROGRIDS))
        )
        depots = [
            (d["createDepot"]["depot"]["id"], d["createDepot"]["microgrid"]["id"]) for d in made
        ]

        # Where each microgrid's channel lives: every shard holds some.
        owners = cluster.primaries()
        prefix = "test"  # the slot depends on the hash tag only

        def shard_of(microgrid_id: str) -> int:
            slot = key_slot(f"{prefix}:{{{microgrid_id}}}".encode())
            return next(p for p, rs in owners.items() if any(lo <= slot <= hi for lo, hi in rs))

        shards = {m: shard_of(m) for _, m in depots}
        assert set(shards.values()) == set(owners), "every shard holds some microgrids"

        # A follows i % 3 in (0, 2), B follows i % 3 in (1, 2).
        followers: list[list[int]] = [[0, 2], [1, 2]]
        cards: list[Card] = []
        for p, base in enumerate(bases):
            mine = [d for i, d in enumerate(depots) if i % 3 in followers[p]]
            cards += await _open_cards(base, operator, mine)

        followed = [sum(1 for i in range(MICROGRIDS) if i % 3 in f) for f in followers]

        # One change per microgrid: each process hears exactly the ones it follows.
        before = [await _notices(http, base) for base in bases]
        for i, (_, microgrid_id) in enumerate(depots):
            await gql([a_url, b_url][i % 2], ingest, RECORD, _status(microgrid_id, True, f"p-{i}"))
        await _converged(cards, dsn, within=10)
        after = [await _notices(http, base) for base in bases]
        heard = [x - y for x, y in zip(after, before, strict=True)]
        print(f"notices heard per process for {MICROGRIDS} changes: {heard}, followed {followed}")
        assert heard == followed, "a notice reaches only the processes following its microgrid"

        # Kill the primary holding the most followed microgrids while ingest runs.
        victim = max(owners, key=lambda p: sum(1 for s in shards.values() if s == p))
        accepted: list[str] = []
        refused: list[str] = []
        stop = asyncio.Event()
        counter = itertools.count()

        async def ingest_loop() -> None:
            while not stop.is_set():
                n = next(counter)
                _, microgrid_id = depots[n % MICROGRIDS]
                ref = f"k-{n:06d}"
                with contextlib.suppress(httpx.HTTPError):
                    response = await http.post(
                        [a_url, b_url][n % 2],
                        json={"query": RECORD, "variables": _status(microgrid_id, n % 2 == 0, ref)},
                        headers={"Authorization": f"Bearer {ingest}"},
                    )
                    ok = response.status_code < 300 and not response.json().get("errors")
                    (accepted if ok else refused).append(ref)
                    continue
                refused.append(ref)

        async def accepted_reach(count: int) -> None:
            deadline = time.monotonic() + 30
            while len(accepted) < count:
                assert time.monotonic() < deadline, "ingest stalled"
                await asyncio.sleep(0.01)

        loops = [asyncio.create_task(ingest_loop()) for _ in range(4)]
        await accepted_reach(20)  # ingest under way before the kill
        cluster.kill(victim)
        killed = time.monotonic()
        failover = await asyncio.to_thread(cluster.wait_for_failover, victim)
        promoted = time.monotonic()

        await accepted_reach(len(accepted) + 20)  # and after the failover
        stop.set()
        await asyncio.gather(*loops)
        stopped = time.monotonic()
        converge = await _converged(cards, dsn, within=10)
        fault_report(
            f"primary {victim} killed; failover took {failover:.1f} s; every open card equal "
            f"to the database {converge:.2f} s after ingest stopped "
            f"({stopped - promoted + converge:.1f} s after the failover completed, "
            f"{stopped - killed + converge:.1f} s after the kill); "
            f"{len(accepted)} ingests accepted, {len(refused)} refused"
        )
        stored = await _stored(dsn, accepted)
        assert [r for r, n in stored.items() if n != 1] == [], "each accepted ingest stored once"
        assert refused == [], "publishing never fails a committed request"

        # A change after the failover reaches the other process through the new primary.
        moved = [(i, m) for i, (_, m) in enumerate(depots) if shards[m] == victim and i % 3 == 2]
        i, microgrid_id = moved[0]
        # Each process moves its subscription to the new primary on its own
        # schedule (cards stay right meanwhile: resync and the silence check),
        # so changes are posted until both processes hear one through it.
        before = [await _notices(http, base) for base in bases]
        deadline = time.monotonic() + 10
        for attempt in itertools.count():
            value = attempt % 2 == 1
            await gql(
                a_url, ingest, RECORD, _status(microgrid_id, value, f"after-failover-{attempt}")
            )
            await _converged(cards, dsn, within=10)
            after = [await _notices(http, base) for base in bases]
            heard = [x - y for x, y in zip(after, before, strict=True)]
            if min(heard) >= 1:
                break
            assert time.monotonic() < deadline, f"notices heard after the failover: {heard}"
        for socket in OPEN_SOCKETS:
            await socket.close()
        OPEN_SOCKETS.clear()


async def _converged(cards: list[Card], dsn: str, within: float) -> float:
    """Seconds until every open card shows its microgrid's revision in the database."""
    start = time.monotonic()
    truth = await _revisions(dsn)
    while True:
        behind = [c for c in cards if c.revision != truth[c.microgrid_id]]
        if not behind:
            return time.monotonic() - start
        assert time.monotonic() - start < within, (
            f"{len(behind)} card(s) not equal to the database {within} s on"
        )
        for card in behind:
            card.changed.clear()
        waits = [asyncio.ensure_future(c.changed.wait()) for c in behind]
        await asyncio.wait(waits, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
