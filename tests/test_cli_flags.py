"""`microgrid flags list|set` and the demo's flag, run as support staff would."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from persistence import tables as t
from tests.test_cli import run

KEY = "new-microgrid-fields-load-chart"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def sqlite_file_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'flags.db'}"


def _demo_depot(url: str) -> str:
    return run(url, "demo").stdout.splitlines()[0].split()[2]


def _audit(url: str) -> list[tuple]:
    engine = create_engine(url.replace("+aiosqlite", ""))
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.audit_log.c.action, t.audit_log.c.token_id, t.audit_log.c.depot_id)
            .where(t.audit_log.c.action == "setFeatureFlag")
            .order_by(t.audit_log.c.at)
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_the_demo_turns_the_flag_on_for_its_depot_once(sqlite_file_url):
    first = run(sqlite_file_url, "demo").stdout
    assert f"{KEY} turned on" in first
    depot = first.splitlines()[0].split()[2]
    again = run(sqlite_file_url, "demo").stdout
    assert "turned on" not in again
    assert len(_audit(sqlite_file_url)) == 1, "idempotent: the second run audits nothing"
    listed = run(sqlite_file_url, "flags", "list", "--depot", depot, columns=200).stdout
    (row,) = [line for line in listed.splitlines() if KEY in line]
    assert "on" in row.split() and "DEPOT" in row


def test_set_and_clear_globally_and_per_depot(sqlite_file_url):
    depot = _demo_depot(sqlite_file_url)
    listed = run(sqlite_file_url, "flags", "list", columns=200).stdout
    (row,) = [line for line in listed.splitlines() if KEY in line]
    assert "off" in row.split() and "DEFAULT" in row

    assert "on from GLOBAL" in run(sqlite_file_url, "flags", "set", KEY, "on").stdout
    out = run(sqlite_file_url, "flags", "set", KEY, "off", "--depot", depot, columns=200).stdout
    assert f"{KEY} (depot {depot}): off from DEPOT" in out
    out = run(sqlite_file_url, "flags", "set", KEY, "clear", "--depot", depot, columns=200).stdout
    assert "on from GLOBAL" in out
    assert "off from DEFAULT" in run(sqlite_file_url, "flags", "set", KEY, "clear").stdout
    audited = _audit(sqlite_file_url)
    assert len(audited) == 5 and {token for _a, token, _d in audited} == {None}


def test_clear_errors_for_unknown_keys_depots_and_values(sqlite_file_url):
    run(sqlite_file_url, "migrate")
    unknown = run(sqlite_file_url, "flags", "set", "nope", "on", check=False)
    assert unknown.returncode == 1 and KEY in unknown.stderr, "names the known flags"
    missing = run(sqlite_file_url, "flags", "set", KEY, "on", "--depot", MISSING, check=False)
    assert missing.returncode == 1 and "No Depot" in missing.stderr
    listed = run(sqlite_file_url, "flags", "list", "--depot", MISSING, check=False)
    assert listed.returncode == 1 and "no depot" in listed.stderr
    malformed = run(sqlite_file_url, "flags", "list", "--depot", "nope", check=False)
    assert malformed.returncode == 2 and "UUID" in malformed.stderr
    bad_value = run(sqlite_file_url, "flags", "set", KEY, "maybe", check=False)
    assert bad_value.returncode == 2
    assert _audit(sqlite_file_url) == []
