"""Quarantine what was stored before the plausible-input rules (DESIGN §2).

- ``quarantined_rows`` records every row found outside the rules: table, row
  id, reason, and the original value where it was changed.
- Capability events stay untouched (the store is append-only and its trigger
  stays on): an event whose observedAt lies outside [2000-01-01, recordedAt +
  5 min] or does not parse is only *marked* here; projection rebuilds skip such
  events by the same rule.
- ``capability_latest`` rows outside the window (±infinity included) are
  replaced by the newest plausible event of their capability, or removed.
- Sensor packets holding NaN/Infinity, nesting deeper than 32 or more than
  64 KiB of JSON keep their row; the packet becomes a small stub naming the
  reason, the original is kept in ``quarantined_rows``.
- Names with NUL, lone surrogates or control characters are repaired (each
  such character becomes U+FFFD) and the original kept.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import json
import math
from typing import Any
import unicodedata
import uuid

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
SKEW = timedelta(minutes=5)
MAX_PACKET_BYTES = 64 * 1024
MAX_DEPTH = 32
NAMED = ("depots", "circuits", "power_sources", "gateways", "devices", "microgrid_nodes")


def upgrade() -> None:
    op.create_table(
        "quarantined_rows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("original", sa.Text(), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_rows")),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    marked: list[dict[str, Any]] = []
    _events(bind, marked)
    _latest(bind, now, marked)
    _packets(bind, marked)
    _names(bind, marked)
    if marked:
        for row in marked:
            row.update(id=uuid.uuid4(), quarantined_at=now)
        op.bulk_insert(_quarantine_table(), marked)


def downgrade() -> None:
    op.drop_table("quarantined_rows")


def _quarantine_table() -> sa.TableClause:
    return sa.table(
        "quarantined_rows",
        sa.column("id", sa.Uuid()),
        sa.column("table_name", sa.String()),
        sa.column("row_id", sa.String()),
        sa.column("reason", sa.String()),
        sa.column("original", sa.Text()),
        sa.column("quarantined_at", sa.DateTime(timezone=True)),
    )


def _instant(value: Any) -> datetime | None:
    """A stored time as aware UTC; None when it is no usable time at all."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _plausible(observed: datetime | None, received: datetime | None) -> bool:
    if observed is None or received is None:
        return False
    try:
        return EARLIEST <= observed <= received + SKEW
    except OverflowError:
        return False


def _payload(value: Any) -> dict[str, Any]:
    try:
        loaded = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _events(bind: sa.Connection, marked: list[dict[str, Any]]) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT id, payload, recorded_at FROM events "
            "WHERE event_type = 'CapabilityStatusRecorded'"
        )
    )
    for row in rows:
        observed = _instant(_payload(row.payload).get("observedAt"))
        if not _plausible(observed, _instant(row.recorded_at)):
            marked.append(
                {"table_name": "events", "row_id": str(row.id), "reason": "OBSERVED_AT_OUT_OF_RANGE"}
            )


def _latest(bind: sa.Connection, now: datetime, marked: list[dict[str, Any]]) -> None:
    """Out-of-window latest rows (compared in SQL, so ±infinity is caught) are
    replaced by the newest plausible event of their capability."""
    window = "observed_at < :earliest OR observed_at > :latest"
    params = {"earliest": _bindable(bind, EARLIEST), "latest": _bindable(bind, now + SKEW)}
    bad = bind.execute(
        sa.text(
            "SELECT microgrid_id, capability, event_id, CAST(observed_at AS TEXT) AS observed "
            f"FROM capability_latest WHERE {window}"
        ),
        params,
    ).all()
    for row in bad:
        marked.append(
            {
                "table_name": "capability_latest",
                "row_id": f"{row.microgrid_id}:{row.capability}",
                "reason": "OBSERVED_AT_OUT_OF_RANGE",
                "original": f"event {row.event_id} observed_at {row.observed}",
            }
        )
        bind.execute(
            sa.text("DELETE FROM capability_latest WHERE microgrid_id = :m AND capability = :c"),
            {"m": row.microgrid_id, "c": row.capability},
        )
        replacement = _newest_plausible(bind, row.microgrid_id, row.capability)
        if replacement is not None:
            bind.execute(
                sa.text(
                    "INSERT INTO capability_latest (microgrid_id, capability, event_id, sequence,"
                    " value, observed_at, received_at, provider_event_ref, source_device_id)"
                    " VALUES (:m, :c, :e, :seq, :v, :o, :r, :ref, :src)"
                ),
                replacement,
            )


def _newest_plausible(bind: sa.Connection, microgrid_id: Any, capability: str) -> Any:
    rows = bind.execute(
        sa.text(
            "SELECT id, sequence, payload, recorded_at FROM events WHERE stream_id = :m "
            "AND subject = :c AND event_type = 'CapabilityStatusRecorded'"
        ),
        {"m": microgrid_id, "c": capability},
    )
    best: tuple[datetime, int] | None = None
    found: dict[str, Any] | None = None
    for row in rows:
        payload = _payload(row.payload)
        observed, received = _instant(payload.get("observedAt")), _instant(row.recorded_at)
        if not _plausible(observed, received) or observed is None or received is None:
            continue
        key = (observed, int(row.sequence))
        if best is None or key > best:
            best = key
            source = payload.get("sourceDeviceId")
            found = {
                "m": microgrid_id,
                "c": capability,
                "e": row.id,
                "seq": int(row.sequence),
                "v": bool(payload.get("value")),
                "o": _bindable(bind, observed),
                "r": _bindable(bind, received),
                "ref": str(payload.get("providerEventRef", ""))[:200],
                "src": _uuid(bind, source),
            }
    return found


def _uuid(bind: sa.Connection, value: Any) -> Any:
    try:
        parsed = uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
    return parsed.hex if parsed is not None and bind.dialect.name == "sqlite" else parsed


def _bindable(bind: sa.Connection, moment: datetime) -> Any:
    if bind.dialect.name == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment


def _packet_problem(text: str) -> str | None:
    if len(text.encode("utf-8", "replace")) > MAX_PACKET_BYTES:
        return "PACKET_TOO_LARGE"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return "PACKET_NOT_JSON"
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return "PACKET_TOO_DEEP"
        if isinstance(item, float) and not math.isfinite(item):
            return "PACKET_NOT_FINITE"
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return None


def _packets(bind: sa.Connection, marked: list[dict[str, Any]]) -> None:
    """Only suspicious rows are read: PostgreSQL's json cannot hold NaN, so
    there only size is a question; SQLite's text is pre-filtered in SQL."""
    if bind.dialect.name == "postgresql":
        suspect = f"octet_length(packet::text) > {MAX_PACKET_BYTES}"
        select = f"SELECT id, device_id, packet::text AS packet FROM sensor_packets WHERE {suspect}"
    else:
        suspect = (
            f"length(CAST(packet AS BLOB)) > {MAX_PACKET_BYTES} OR packet LIKE '%NaN%' "
            "OR packet LIKE '%Infinity%'"
        )
        select = f"SELECT id, device_id, packet FROM sensor_packets WHERE {suspect}"
    for row in bind.execute(sa.text(select)).all():
        reason = _packet_problem(str(row.packet))
        if reason is None:
            continue
        marked.append(
            {
                "table_name": "sensor_packets",
                "row_id": str(row.id),
                "reason": reason,
                "original": str(row.packet),
            }
        )
        stub = json.dumps({"quarantined": reason, "device_id": str(row.device_id), "sensors": []})
        bind.execute(
            sa.text("UPDATE sensor_packets SET packet = :p WHERE id = :id"),
            {"p": stub, "id": row.id},
        )


def _forbidden(ch: str) -> bool:
    return ch == "\x00" or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")


def _names(bind: sa.Connection, marked: list[dict[str, Any]]) -> None:
    for table in NAMED:
        for row in bind.execute(sa.text(f"SELECT id, name FROM {table}")).all():
            name = str(row.name)
            if not any(_forbidden(ch) for ch in name) and 0 < len(name.strip()) <= 200:
                continue
            fixed = "".join("\ufffd" if _forbidden(ch) else ch for ch in name).strip()[:200]
            marked.append(
                {
                    "table_name": table,
                    "row_id": str(row.id),
                    "reason": "NAME_REPAIRED",
                    "original": json.dumps(name),
                }
            )
            bind.execute(
                sa.text(f"UPDATE {table} SET name = :n WHERE id = :id"),
                {"n": fixed or "unnamed", "id": row.id},
            )
