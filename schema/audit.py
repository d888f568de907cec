"""The audit trail: accepted configuration changes and the token that made each."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from domain import reads
from domain.audit import AuditRecord
from schema.common import PageInfo, gid, gid_or_none


@strawberry.type(description="An accepted configuration change and the token that made it.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    token_id: strawberry.ID | None
    action: str = strawberry.field(description="The mutation, e.g. createCircuit.")
    subject_id: strawberry.ID | None
    depot_id: strawberry.ID | None
    detail: JSON

    @classmethod
    def from_domain(cls, r: AuditRecord) -> AuditEntry:
        return cls(
            id=gid(r.id),
            at=r.entry.at,
            token_id=gid_or_none(r.token_id),
            action=r.entry.action,
            subject_id=gid_or_none(r.entry.subject_id),
            depot_id=gid_or_none(r.entry.depot_id),
            detail=cast(JSON, r.entry.detail),
        )


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo

    @classmethod
    def from_domain(cls, page: reads.AuditPage) -> AuditEntryConnection:
        edges = [
            AuditEntryEdge(cursor=reads.encode_audit_cursor(r), node=AuditEntry.from_domain(r))
            for r in page.records
        ]
        return cls(edges=edges, page_info=PageInfo.of_edges(edges, page.has_next_page))
