"""The graphql-core executor the schema runs operations with, passed to
Strawberry through its public hook (``execution_context_class``): no global
patch of graphql-core. Live delivery subclasses it (``live_updates.executor``)."""

from __future__ import annotations

from typing import Any

from schema.graphql_core_internals import OwnSubfieldMemo
from schema.load_chart import PLAIN_RECORDS
from schema.result_budget import ListItemBudget
from schema.strawberry_internals import StrawberryGraphQLCoreExecutionContext


class SchemaExecutor(ListItemBudget, OwnSubfieldMemo, StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with a budget on list items, a subfield memo per
    subscription event, and no "did you mean" hints for variable values: with
    introspection off they would name schema elements, and graphql-core's
    suggestion list fails on some values (an IndexError for "\u0130", whose
    lower case is two characters). Lists of the plain records named below
    (the load chart's points) are completed in one pass."""

    plain_records = PLAIN_RECORDS

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})
