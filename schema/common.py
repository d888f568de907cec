"""What every schema module shares: the resolver info type, ids, page info."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

import strawberry
from strawberry.types import Info

from resolvers.context import RequestContext

Ctx = Info[RequestContext, None]


def gid(value: UUID) -> strawberry.ID:
    return strawberry.ID(str(value))


def gid_or_none(value: UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of_edges(cls, edges: Sequence[Edge], has_next_page: bool) -> PageInfo:
        return cls(has_next_page=has_next_page, end_cursor=edges[-1].cursor if edges else None)


class Edge(Protocol):
    @property
    def cursor(self) -> str: ...
