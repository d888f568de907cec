"""The audit log: written inside the unit of work that made the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import and_, insert, or_, select

from domain.access import Scope
from domain.audit import AuditEntry, AuditRecord
from persistence import tables as t
from persistence.repositories import _Repository


class SqlAuditLog(_Repository):
    async def write(self, entries: list[AuditEntry], token_id: UUID | None) -> None:
        if entries:
            await self._conn.execute(
                insert(t.audit_log),
                [
                    {
                        "id": uuid4(),
                        "at": e.at,
                        "token_id": token_id,
                        "action": e.action,
                        "subject_id": e.subject_id,
                        "depot_id": e.depot_id,
                        "detail": e.detail,
                    }
                    for e in entries
                ],
            )

    async def page(
        self, scope: Scope, first: int, before: tuple[datetime, UUID] | None
    ) -> list[AuditRecord]:
        c = t.audit_log.c
        statement = select(t.audit_log).order_by(c.at.desc(), c.id.desc()).limit(first)
        if scope.depot_ids is not None:
            statement = statement.where(c.depot_id.in_(list(scope.depot_ids)))
        if before is not None:
            statement = statement.where(
                or_(c.at < before[0], and_(c.at == before[0], c.id < before[1]))
            )
        return [_record(r) for r in await self._rows(statement)]


def _record(row: Any) -> AuditRecord:
    return AuditRecord(
        row.id,
        AuditEntry(row.action, row.at, row.subject_id, row.depot_id, dict(row.detail)),
        row.token_id,
    )
