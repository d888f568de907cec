"""Reads are total: whatever a table holds (written straight into it, as a
store from before the rules or an out-of-band edit may), the card, history,
topology and packet reads answer with valid JSON (DESIGN §2)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from tests.api.test_capability_api import CARD, RECORD
from tests.api.test_plausible_values import _ingest, post
from tests.api.test_sensor_api import PACKETS, _packet, _site

TOPOLOGY = """query ($id: ID!) { microgrid(id: $id) { __typename ... on Microgrid {
  depot { name } topology { name kind }
  capabilityStatuses { capability status freshness observedAt staleAt ageSeconds }
  capabilityHistory(first: 10) { edges { node { observedAt receivedAt status } } }
} } }"""

POSTGRES_EDGES = ("-infinity", "infinity", "0001-01-01 00:00:00+00", "9999-12-31 23:59:59+00")
SQLITE_EDGES = (
    "0001-01-01 00:00:00.000000",
    "9999-12-31 23:59:59.999999",
    "2026-01-01 00:00:00",
    "2026-01-01T00:00:00+14:00",
)
NAN_PACKET = r'{"x": NaN, "y": [Infinity, -Infinity], "z": "\ud800"}'
PAYLOAD_EDGES = ("infinity", "-infinity", "0001-01-01T00:00:00+14:00", "not a time", None)


async def _sql(container: Any, statement: str, **params: Any) -> None:
    async with container.engine.begin() as conn:
        await conn.execute(text(statement), params)


async def _reads(operator: Any, depot_id: str, microgrid_id: str, device_id: str) -> None:
    card = await post(operator, CARD, {"depotId": depot_id})
    assert not card.get("errors") and card["data"]["microgridCard"]["der"]["status"] in (
        "ON",
        "OFF",
    ), card
    view = await post(operator, TOPOLOGY, {"id": microgrid_id})
    assert not view.get("errors") and view["data"]["microgrid"]["__typename"] == "Microgrid"
    packets = await post(operator, PACKETS, {"deviceId": device_id})
    assert not packets.get("errors"), packets


async def test_every_read_answers_whatever_the_tables_hold(
    admin, integration, operator, container, clock, store
):
    depot, device_id, _bess, _feeder = await _site(admin)
    depot_id, microgrid_id = depot["depot"]["id"], depot["microgrid"]["id"]
    status = {
        "microgridId": microgrid_id,
        "capability": "DER",
        "value": True,
        "observedAt": clock.current.isoformat(),
        "providerEventRef": "r1",
    }
    await post(integration, RECORD, {"input": status})
    ts = int(clock.current.timestamp() * 1000)
    await _ingest(integration, _packet(device_id, ts, ("DISPATCH_STATE", "on")))

    edges = POSTGRES_EDGES if store == "postgresql" else SQLITE_EDGES
    for i, edge in enumerate(edges):
        await _sql(
            container,
            "UPDATE capability_latest SET observed_at = :at, received_at = :at",
            at=edge,
        ) if store == "sqlite" else await _sql(
            container,
            f"UPDATE capability_latest SET observed_at = '{edge}'::timestamptz, "
            f"received_at = '{edge}'::timestamptz",
        )
        payload = {
            "capability": "DER",
            "value": False,
            "observedAt": PAYLOAD_EDGES[i % len(PAYLOAD_EDGES)],
            "providerEventRef": f"edge{i}",
            "sourceDeviceId": None,
            "appliedToLatest": True,
        }
        await _insert_event(container, store, microgrid_id, i, payload, edge)
        await _reads(operator, depot_id, microgrid_id, device_id)
        # a new status still records over the damaged latest row
        recorded = await post(
            integration,
            RECORD,
            {
                "input": {
                    **status,
                    "providerEventRef": f"new{i}",
                    "observedAt": clock.current.isoformat(),
                }
            },
        )
        assert recorded["data"]["recordCapabilityStatus"]["__typename"] == (
            "CapabilityStatusRecorded"
        ), recorded

    if store == "sqlite":
        await _sql(container, "UPDATE depots SET name = 'a' || char(0) || 'b'")
        await _sql(container, "UPDATE circuits SET name = 'c' || char(0) || char(7)")
        await _sql(container, "UPDATE sensor_packets SET packet = :p", p=NAN_PACKET)
        await _reads(operator, depot_id, microgrid_id, device_id)
        edges_seen = (await post(operator, PACKETS, {"deviceId": device_id}))["data"]
        packet = edges_seen["sensorPackets"]["edges"][0]["node"]["packet"]
        assert packet["x"] is None and packet["y"] == [None, None]


async def _insert_event(
    container: Any, store: str, microgrid_id: str, i: int, payload: dict[str, Any], edge: str
) -> None:
    async with container.engine.begin() as conn:
        sequence = (
            await conn.execute(
                text(
                    "UPDATE event_streams SET last_sequence = last_sequence + 1 "
                    "WHERE stream_id = :s RETURNING last_sequence"
                ),
                {"s": microgrid_id if store == "postgresql" else microgrid_id.replace("-", "")},
            )
        ).scalar_one()
        recorded = f"'{edge}'::timestamptz" if store == "postgresql" else ":edge"
        await conn.execute(
            text(
                "INSERT INTO events (id, stream_id, sequence, event_type, subject, "
                "idempotency_key, payload, recorded_at, observed_at, value) VALUES (:id, :s, "
                f":seq, 'CapabilityStatusRecorded', 'DER', :key, :payload, {recorded}, {recorded},"
                " false)"
            ),
            {
                "id": f"00000000-0000-4000-8000-{i:012d}".replace("-", "")
                if store == "sqlite"
                else f"00000000-0000-4000-8000-{i:012d}",
                "s": microgrid_id if store == "postgresql" else microgrid_id.replace("-", ""),
                "seq": sequence,
                "key": f"DER:edge{i}",
                "payload": json.dumps(payload),
                **({"edge": edge} if store == "sqlite" else {}),
            },
        )
