"""The audit trail of accepted configuration changes. Use cases record an entry
in their unit of work; it is written in the same transaction, with the acting
token, so a change and its audit record commit or fail together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class AuditEntry:
    action: str
    at: datetime
    subject_id: UUID | None = None
    depot_id: UUID | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """An entry as stored: with its id and the token that made the change."""

    id: UUID
    entry: AuditEntry
    token_id: UUID | None
