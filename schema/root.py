"""Query, Mutation and Subscription roots, and the Schema with its extensions."""

from __future__ import annotations

import contextlib
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions.runner import SchemaExtensionsRunner

from graphql import GraphQLError
from resolvers import live
from schema import graphql_core_fix, scalars, shared_events
from schema.access import RoleAllowed
from schema.capability import CapabilityStatusEvent
from schema.card import MicrogridCardUpdate
from schema.card_frames import SubscriptionAwareExecutor
from schema.errors import ProblemErrors, StorageCheck, log_client_errors, never_storage
from schema.microgrid import Microgrid
from schema.mutation import Mutation
from schema.query import Query
from schema.query_limits import ListLiteralLimit
from schema.request_checks import Limits, RequestChecks
from schema.result_budget import ListItemBudget


@strawberry.type
class Subscription:
    microgrid_card: MicrogridCardUpdate = strawberry.subscription(  # type: ignore[assignment]
        resolver=live.microgrid_card,
        permission_classes=[RoleAllowed],
        description=(
            "First message: the current card (reason SNAPSHOT); then one per change, "
            "freshness transitions included."
        ),
    )
    capability_status_events: CapabilityStatusEvent = strawberry.subscription(  # type: ignore[assignment]
        resolver=live.capability_status_events, permission_classes=[RoleAllowed]
    )
    microgrid_topology: Microgrid = strawberry.subscription(  # type: ignore[assignment]
        resolver=live.microgrid_topology,
        permission_classes=[RoleAllowed],
        description="First message: the current microgrid; then one per topology change.",
    )


graphql_core_fix.apply()
shared_events.apply()


class _ExtensionsRunner(SchemaExtensionsRunner):
    def on_stream_result(self, result: Any) -> Any:
        """A shared subscription result has nothing for an extension to do (no
        errors to mask); skipping the hooks saved ~15% of a card fan-out."""
        if isinstance(getattr(result, "data", None), shared_events.SharedData):
            return _NOTHING_TO_DO
        return super().on_stream_result(result)


_NOTHING_TO_DO = contextlib.nullcontext()


class MicrogridSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        log_client_errors(errors)

    def create_extensions_runner(
        self, execution_context: Any, extensions: list[Any]
    ) -> SchemaExtensionsRunner:
        return _ExtensionsRunner(execution_context=execution_context, extensions=extensions)

    async def _handle_execution_result(
        self, context: Any, result: Any, extensions_runner: Any, **kwargs: Any
    ) -> Any:
        """A shared subscription result has no errors and no extension results:
        its Strawberry result was built once (``schema.shared_events``)."""
        if isinstance(result, shared_events.SharedResult):
            return result.presented
        return await super()._handle_execution_result(context, result, extensions_runner, **kwargs)


class _QuietExecutor(ListItemBudget, SubscriptionAwareExecutor):
    """Variable values get no "did you mean" hints: with introspection off they
    would name schema elements, and graphql-core's suggestion list fails on some
    values (an IndexError for "\u0130", whose lower case is two characters)."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})


def build_schema(
    *,
    introspection: bool = True,
    max_depth: int = 15,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    max_cost: int = 2000,
    max_response_bytes: int = 8 * 1024 * 1024,
    max_result_items: int = 10_000,
    storage_unavailable: StorageCheck = never_storage,
) -> strawberry.Schema:
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
        lambda: RequestChecks(rules, limits),
        lambda: ProblemErrors(storage_unavailable),
    ]
    return MicrogridSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=type(
            "BudgetedExecutor", (_QuietExecutor,), {"max_items": max_result_items}
        ),
        config=scalars.config(),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
