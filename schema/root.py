"""The schema: Query, Mutation and Subscription roots, its extensions and executor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

from graphql import GraphQLError
from schema import scalars
from schema.errors import ProblemErrors, StorageCheck, log_client_errors, never_storage
from schema.executor import SchemaExecutor
from schema.mutation import Mutation
from schema.query import Query
from schema.query_limits import ListLiteralLimit
from schema.request_checks import Limits, RequestChecks
from schema.subscription import Subscription


class MicrogridSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        log_client_errors(errors)


def build_schema(
    *,
    introspection: bool = True,
    max_depth: int = 15,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    max_cost: int = 2000,
    max_response_bytes: int = 16 * 1024 * 1024,
    max_result_items: int = 10_000,
    executor: type[SchemaExecutor] = SchemaExecutor,
    storage_unavailable: StorageCheck = never_storage,
    extra_extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema with its limits; ``executor`` runs its operations (live
    delivery passes its subclass); ``extra_extensions`` (factories) run
    around the schema's own (e.g. tracing, from the composition root)."""
    # The validation cache is keyed by the rule classes: no fresh classes per request.
    rules: list[Any] = [ListLiteralLimit]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    limits = Limits(
        max_depth=max_depth,
        max_aliases=max_aliases,
        max_tokens=max_tokens,
        max_cost=max_cost,
        max_response_bytes=max_response_bytes,
        hide_suggestions=not introspection,
    )
    extensions: list[Any] = [
        *extra_extensions,
        lambda: RequestChecks(rules, limits),
        lambda: ProblemErrors(storage_unavailable),
    ]
    return MicrogridSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=type(
            "BudgetedExecutor", (executor,), {"max_items": max_result_items}
        ),
        config=scalars.config(),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
