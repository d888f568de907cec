"""A long-lived subscription does not grow with the number of messages it sends."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

import pytest
from graphql.execution.executor import Executor

from domain.access import Role
from tests.api.helpers import new_depot
from tests.support.live_server import live_server
from tests.support.ws import WsClient

SUB = "subscription ($d: ID!) { microgridCard(depotId: $d) { reason card { revision } } }"
RECORD = """mutation ($i: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $i) { __typename } }"""


def _executors() -> list[Executor]:
    return [o for o in gc.get_objects() if isinstance(o, Executor)]


@pytest.mark.stores("sqlite")
async def test_subfield_memos_do_not_grow_with_messages(
    container, admin, integration, clock, store
):
    depot = await new_depot(admin, "D", "F")
    token = (await container.tokens.issue(Role.OPERATOR, (), datetime.now(UTC))).token
    async with live_server(container) as url:
        ws = await WsClient.connect(url, token)
        await ws.subscribe(SUB, {"d": depot["depot"]["id"]})
        await ws.data()

        async def send(count: int, offset: int) -> int:
            for n in range(offset, offset + count):
                await integration.execute(
                    RECORD,
                    {
                        "i": {
                            "microgridId": depot["microgrid"]["id"],
                            "capability": "DER",
                            "value": bool(n % 2),
                            "observedAt": clock.current.isoformat(),
                            "providerEventRef": f"m{n}",
                        }
                    },
                )
                await ws.data()
            gc.collect()
            return max(len(e._relevant_sub_fields) for e in _executors())

        after_ten = await send(10, 0)
        after_sixty = await send(50, 10)
        await ws.close()
    assert after_sixty == after_ten, "the memo grows by message: the graphql-core leak is back"


@pytest.mark.stores("sqlite")
async def test_an_idle_card_subscription_keeps_neither_its_snapshot_nor_its_query_copy(
    container, admin, clock, store
):
    from schema.card import MicrogridCard

    depot = await new_depot(admin, "Idle", "F")
    token = (await container.tokens.issue(Role.OPERATOR, (), datetime.now(UTC))).token
    query = "subscription ($d: ID!) { microgridCard(depotId: $d) { card { revision depotName } } }"
    async with live_server(container) as url:
        screens = [await WsClient.connect(url, token) for _ in range(3)]
        for ws in screens:
            await ws.subscribe(query, {"d": depot["depot"]["id"]})
            assert (await ws.data())["microgridCard"]["card"]["depotName"] == "Idle"
        gc.collect()
        cards = [o for o in gc.get_objects() if type(o) is MicrogridCard]
        results = [
            o
            for o in gc.get_objects()
            if type(o) is dict and isinstance(o.get("microgridCard"), dict)
        ]
        copies = [o for o in gc.get_objects() if type(o) is str and o == query]
        for ws in screens:
            await ws.close()
    # The screens opened together share one snapshot (and its one execution),
    # which their card's follower made: nothing is kept per screen.
    assert len(cards) <= 1, "a sent snapshot stays referenced per screen while it is open"
    assert len(results) <= 1, "a sent result stays referenced per screen while it is open"
    assert len(copies) <= 1, "every subscription keeps its own copy of the same document"
