"""Rows stored before the plausible-input rules: the migration quarantines or
repairs them, and projection rebuilds skip and report them (DESIGN §2)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from persistence import schema_upgrade
from persistence.database import create_engine
from tests.support import services
from tests.test_cli import run

pytestmark = pytest.mark.database_only("rows written with SQL before a migration")

PLAUSIBLE_AT = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def fresh_url(store: str, tmp_path: Any) -> Iterator[str]:
    """A database of the store at revision 0004, before the quarantine."""
    if store == "postgresql":
        url, name = services.create_postgres_database()
        schema_upgrade.downgrade(url, "0004")
        yield url
        services.drop_postgres_database(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'q.db'}"
        schema_upgrade.upgrade(url, "0004")
        yield url


def _id(store: str, value: uuid.UUID) -> str:
    return str(value) if store == "postgresql" else value.hex


async def _sql(url: str, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            results = []
            for statement, params in statements:
                result = await conn.execute(text(statement), params)
                results.append(result.all() if statement.startswith("SELECT") else None)
            return results
    finally:
        await engine.dispose()


def _seed(url: str, store: str) -> dict[str, Any]:
    ids = {k: uuid.uuid4() for k in ("depot", "microgrid", "device", "bad", "good", "packet")}
    i = {k: _id(store, v) for k, v in ids.items()}
    ts = "::timestamptz" if store == "postgresql" else ""
    minus_infinity = (
        "'-infinity'::timestamptz" if store == "postgresql" else "'0001-01-01 00:00:00'"
    )
    nul_name = "'Depot' || chr(7)" if store == "postgresql" else "'Dep' || char(0) || 'ot'"
    bad = {
        "capability": "DER",
        "value": False,
        "observedAt": "0001-01-01T00:00:00+00:00",
        "providerEventRef": "bad",
        "sourceDeviceId": None,
        "appliedToLatest": True,
    }
    good = {
        **bad,
        "value": True,
        "observedAt": PLAUSIBLE_AT,
        "providerEventRef": "good",
        "appliedToLatest": False,
    }
    huge = json.dumps({"device_id": "x", "junk": "j" * 70_000})
    event = (
        "INSERT INTO events (id, stream_id, sequence, event_type, subject, idempotency_key,"
        f" payload, recorded_at) VALUES (:id, :m, :seq, 'CapabilityStatusRecorded', 'DER', :k,"
        f" :p, '2026-01-01 00:01:00'{ts})"
    )
    asyncio.run(
        _sql(
            url,
            [
                (
                    f"INSERT INTO depots (id, name, created_at) VALUES (:d, {nul_name}, "
                    f"'2026-01-01 00:00:00'{ts})",
                    {"d": i["depot"]},
                ),
                (
                    "INSERT INTO microgrids (id, depot_id, version, created_at, updated_at,"
                    " revision) "
                    f"VALUES (:m, :d, 1, '2026-01-01 00:00:00'{ts}, '2026-01-01 00:00:00'{ts}, 1)",
                    {"m": i["microgrid"], "d": i["depot"]},
                ),
                (
                    "INSERT INTO devices (id, depot_id, name, created_at) VALUES "
                    f"(:v, :d, 'MGC', '2026-01-01 00:00:00'{ts})",
                    {"v": i["device"], "d": i["depot"]},
                ),
                (
                    "INSERT INTO event_streams (stream_id, last_sequence) VALUES (:m, 2)",
                    {"m": i["microgrid"]},
                ),
                (
                    event,
                    {
                        "id": i["good"],
                        "m": i["microgrid"],
                        "seq": 1,
                        "k": "DER:good",
                        "p": json.dumps(good),
                    },
                ),
                (
                    event,
                    {
                        "id": i["bad"],
                        "m": i["microgrid"],
                        "seq": 2,
                        "k": "DER:bad",
                        "p": json.dumps(bad),
                    },
                ),
                (
                    "INSERT INTO capability_latest (microgrid_id, capability, event_id,"
                    " sequence, value, observed_at, received_at, provider_event_ref)"
                    f" VALUES (:m, 'DER', :e, 2, false, {minus_infinity},"
                    f" '2026-01-01 00:01:00'{ts}, 'bad')",
                    {"m": i["microgrid"], "e": i["bad"]},
                ),
                (
                    "INSERT INTO sensor_packets (id, device_id, observed_at, received_at,"
                    f" packet, outcomes) VALUES (:p, :v, '2026-01-01 00:00:00'{ts},"
                    f" '2026-01-01 00:00:00'{ts}, :j, '[]')",
                    {"p": i["packet"], "v": i["device"], "j": huge},
                ),
            ],
        )
    )
    return ids


def test_the_migration_quarantines_and_repairs_what_breaks_the_rules(fresh_url, store):
    ids = _seed(fresh_url, store)

    schema_upgrade.upgrade(fresh_url)

    latest, quarantined, packet, name = asyncio.run(
        _sql(
            fresh_url,
            [
                ("SELECT event_id, value FROM capability_latest", {}),
                ("SELECT table_name, row_id, reason FROM quarantined_rows ORDER BY table_name", {}),
                ("SELECT CAST(packet AS TEXT) FROM sensor_packets", {}),
                ("SELECT name FROM depots", {}),
            ],
        )
    )
    assert [(str(uuid.UUID(str(e))), bool(v)) for e, v in latest] == [(str(ids["good"]), True)]
    reasons = {(t, r) for t, _row, r in quarantined}
    assert reasons == {
        ("capability_latest", "OBSERVED_AT_OUT_OF_RANGE"),
        ("depots", "NAME_REPAIRED"),
        ("events", "OBSERVED_AT_OUT_OF_RANGE"),
        ("sensor_packets", "PACKET_TOO_LARGE"),
    }
    marked_event = next(row for t, row, _r in quarantined if t == "events")
    assert uuid.UUID(marked_event) == ids["bad"]
    assert json.loads(packet[0][0])["quarantined"] == "PACKET_TOO_LARGE"
    assert "\x00" not in name[0][0] and "\x07" not in name[0][0] and "\ufffd" in name[0][0]


def test_projections_rebuild_skips_and_reports_implausible_events(fresh_url, store, monkeypatch):
    ids = _seed(fresh_url, store)
    schema_upgrade.upgrade(fresh_url)

    result = run(fresh_url, "projections", "rebuild")

    assert "rebuilt the latest-status projection: 1 row(s)" in result.stdout
    assert f"skipped 1 event(s) outside the plausible-input rules: {ids['bad']}" in result.stdout
    (latest,) = asyncio.run(_sql(fresh_url, [("SELECT event_id FROM capability_latest", {})]))
    assert [uuid.UUID(str(e)) for (e,) in latest] == [ids["good"]]
