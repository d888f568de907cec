"""Every paginated field, with hostile ``after`` cursors and ``first`` values.

A cursor is opaque: one that does not decode to a position is BAD_CURSOR or
starts over (DESIGN §2), never a fault. Real cursors of one field are also
tried on the others."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.invariants import Site, check, check_reads, post
from tests.hostile.profile import hostile
from tests.hostile.strategies import hostile_cursors, hostile_ints
from tests.hostile.test_packets import INGEST, valid_packet

PAGE = "edges { cursor } pageInfo { hasNextPage endCursor }"
FIELDS: dict[str, tuple[str, Any]] = {
    "depots": (
        "query ($first: Int!, $after: String) {"
        f" depots(first: $first, after: $after) {{ {PAGE} }} }}",
        None,
    ),
    "auditTrail": (
        "query ($first: Int!, $after: String) {"
        f" auditTrail(first: $first, after: $after) {{ {PAGE} }} }}",
        None,
    ),
    "sensorPackets": (
        "query ($id: ID!, $first: Int!, $after: String) {"
        f" sensorPackets(deviceId: $id, first: $first, after: $after) {{ {PAGE} }} }}",
        "device_id",
    ),
    "capabilityHistory": (
        "query ($id: ID!, $first: Int!, $after: String) { microgrid(id: $id) {"
        " ... on Microgrid { capabilityHistory(first: $first, after: $after) {"
        f" {PAGE} }} }} }} }}",
        "microgrid_id",
    ),
}
RECORD = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""


async def _seed(http, site: Site, clock) -> list[str]:
    """Two packets and two statuses, so every field has real cursors; returns them."""
    for n in range(2):
        now_ms = int(clock.current.timestamp() * 1000)
        await post(http, site.token, INGEST, {"packet": valid_packet(site, now_ms)}, hostile=False)
        record = {
            "microgridId": site.microgrid_id,
            "capability": "DER",
            "value": bool(n),
            "observedAt": clock.current.isoformat(),
            "providerEventRef": f"seed-{n}",
        }
        await post(http, site.token, RECORD, {"input": record}, hostile=False)
        clock.advance(1)
    cursors = []
    for name, (document, arg) in FIELDS.items():
        variables = {"first": 1, **({"id": getattr(site, arg)} if arg else {})}
        body = (await post(http, site.token, document, variables, hostile=False)).json()
        assert body.get("data"), (name, body)
        page = (
            body["data"][name] if name != "capabilityHistory" else body["data"]["microgrid"][name]
        )
        assert page["edges"], (name, body)
        cursors.append(page["pageInfo"]["endCursor"])
    return cursors


@pytest.mark.parametrize("field", sorted(FIELDS))
@hostile
@given(data=st.data())
async def test_hostile_cursors_are_client_errors(field, site, http, clock, log, data):
    if not hasattr(site, "cursors"):
        site.cursors = await _seed(http, site, clock)  # type: ignore[attr-defined]
    document, arg = FIELDS[field]
    after = data.draw(
        st.one_of(hostile_cursors, st.sampled_from(site.cursors), st.none()), label="after"
    )
    first = data.draw(st.one_of(st.integers(1, 3), hostile_ints), label="first")
    variables = {"first": first, "after": after, **({"id": getattr(site, arg)} if arg else {})}
    check(await post(http, site.token, document, variables), log, f"{field}(after:)")


async def test_reads_still_answer_after_the_seeding(site, http, clock, log):
    await _seed(http, site, clock)
    await check_reads(http, site, log)
