"""What each root field of an operation returned, for whoever collects it
(the composition root's metrics: the result type of an operation, ingests by
outcome). A field extension on every root Query and Mutation field: one call
per root field, none per nested field, and nothing when nobody collects."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver, SyncExtensionResolver
from strawberry.types import Info

RootResults = list[tuple[str, object]]
"""(root field name as in the schema, the object it returned), in completion order."""

_COLLECTING: ContextVar[RootResults | None] = ContextVar("microgrid_root_results", default=None)


@contextmanager
def collected() -> Iterator[RootResults]:
    """The root results of the operation run inside this block."""
    results: RootResults = []
    token = _COLLECTING.set(results)
    try:
        yield results
    finally:
        _COLLECTING.reset(token)


class RootResult(FieldExtension):
    def resolve(self, next_: SyncExtensionResolver, source: Any, info: Info, **kwargs: Any) -> Any:
        result = next_(source, info, **kwargs)
        _note(info, result)
        return result

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        result = await next_(source, info, **kwargs)
        _note(info, result)
        return result


def _note(info: Info, result: object) -> None:
    results = _COLLECTING.get()
    if results is not None:
        results.append((info.field_name, result))
