"""Unit-of-work contract on every store: what a commit writes, announces and
audits, and what leaving without one leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from domain.access import EVERYWHERE, Scope
from domain.audit import AuditEntry
from domain.changes import Change, ChangeReason
from domain.model import Depot

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _change() -> Change:
    return Change(uuid4(), ChangeReason.CAPABILITY_STATUS, 2)


async def test_changes_are_announced_once_after_commit_and_never_without(deps, published):
    kept, dropped, later = _change(), _change(), _change()
    async with deps.uow() as uow:
        uow.notify(dropped)
    async with deps.uow() as uow:
        uow.notify(kept)
        assert published.changes == [], "not before the commit"
        await uow.commit()
        uow.notify(later)
        await uow.commit()
    assert published.changes == [kept, later]


async def test_writes_after_a_commit_need_a_commit_of_their_own(deps):
    """After a commit the unit of work goes on in a new transaction, the
    driver's straight statements (the asyncpg ingest path) included."""
    committed, left, stream = Depot(uuid4(), "a", T), Depot(uuid4(), "b", T), uuid4()
    async with deps.uow() as uow:
        await uow.depots.add(committed)
        assert await uow.events.reserve_sequence(stream) == 1
        await uow.commit()
        assert await uow.events.reserve_sequence(stream) == 2  # the first statement after it
        await uow.depots.add(left)
    async with deps.uow(write=False) as uow:
        assert await uow.depots.get(committed.id) == committed
        assert await uow.depots.get(left.id) is None
        assert await uow.events.last_sequence(stream) == 1


async def test_audit_entries_are_written_with_the_commit_and_read_newest_first(deps):
    depot, other = uuid4(), uuid4()
    entries = [
        AuditEntry("createDepot", T, depot, depot, {"name": "a"}),
        AuditEntry("createDevice", T + timedelta(seconds=1), uuid4(), other),
        AuditEntry("backfillMicrogrids", T + timedelta(seconds=2), detail={"created": 1}),
    ]
    async with deps.uow() as uow:
        uow.audit(AuditEntry("never", T))
    async with deps.uow() as uow:
        for entry in entries:
            uow.audit(entry)
        await uow.commit()

    async with deps.uow(write=False) as uow:
        first = await uow.audit_log.page(EVERYWHERE, 2, None)
        rest = await uow.audit_log.page(EVERYWHERE, 5, (first[-1].entry.at, first[-1].id))
        scoped = await uow.audit_log.page(Scope.only(depot), 5, None)
    assert [r.entry for r in first + rest] == entries[::-1]
    assert [r.entry for r in scoped] == [entries[0]], "a depot's reader sees only its depot"
