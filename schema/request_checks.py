"""Parsing and validation, each cached by query text, with the service's limits.

One extension instead of Strawberry's four (AddValidationRules,
MaxTokensLimiter, ParserCache, ValidationCache): Strawberry enters every
extension's hooks on every request and every subscription message, and those
four did nothing per request that one cannot.

Before execution (and so before graphql-core coerces the variables) it refuses,
cheapest first: a root field the token's role may not use, a list of more than
1,000 items anywhere in the variables as sent, and a query whose cost passes
the limit (``schema.query_limits``). After execution, a result larger than the
response cap is replaced by an error."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from domain.access import may
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
    is_non_null_type,
    parse,
    validate,
)
from schema.access import RoleAllowed, root_field_key
from schema.query_limits import (
    document_errors,
    limit_error,
    list_too_long,
    measure,
    too_costly,
)
from schema.response_size import over_cap
from schema.result_budget import budget_error, too_large
from schema.strawberry_internals import graphql_schema
from schema.variable_limits import first_long_list

CACHE_SIZE = 256
"""Distinct query texts kept parsed and validated (bounded: hostile clients can
send unique texts)."""

_parse = lru_cache(maxsize=CACHE_SIZE)(parse)


@lru_cache(maxsize=CACHE_SIZE)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, rules, hide_suggestions=hide_suggestions)


@dataclass(frozen=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_cost: int
    max_response_bytes: int
    hide_suggestions: bool


@lru_cache(maxsize=CACHE_SIZE)
def _limit_errors(
    schema: GraphQLSchema, document: DocumentNode, limits: Limits
) -> list[GraphQLError]:
    return document_errors(schema, document, limits.max_depth, limits.max_aliases, limits.max_cost)


@lru_cache(maxsize=CACHE_SIZE)
def _operation(
    schema: GraphQLSchema, document: DocumentNode, name: str | None
) -> tuple[OperationDefinitionNode, bool] | None:
    """The operation to run, and whether its cost depends on the variables
    (validation measured the others already)."""
    operation = get_operation_ast(document, name)
    if operation is None:
        return None
    return operation, measure(schema, document, operation).uses_variables


class RequestChecks(SchemaExtension):
    def __init__(self, rules: Sequence[type[ASTValidationRule]], limits: Limits) -> None:
        self.rules = tuple(rules)
        self.limits = limits
        self.named = False

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # No document yet: operation_name is the one the client sent, if any.
        self.named = context.operation_name is not None
        context.parse_options["max_tokens"] = self.limits.max_tokens
        context.validation_rules = (*context.validation_rules, *self.rules)
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # On a syntax error Strawberry parses again and reports it as a request error.
        with contextlib.suppress(GraphQLError):
            context.graphql_document = _parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        schema = graphql_schema(context.schema)
        errors = _limit_errors(schema, document, self.limits) or _validate(
            schema, document, context.validation_rules, self.limits.hide_suggestions
        )
        if not errors and not self.named and _operations(document) > 1:
            errors = [_needs_operation_name()]
        context.pre_execution_errors = errors
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        schema = graphql_schema(context.schema)
        found = _operation(schema, context.graphql_document, context.operation_name)
        if found is not None:
            refused = self._refusal(*found)
            if refused is not None and found[0].operation is OperationType.SUBSCRIPTION:
                raise refused.errors[0]  # type: ignore[index]
            context.result = refused  # a result here means graphql-core does not run
        yield
        result = context.result
        data = getattr(result, "data", None)
        spent = budget_error(getattr(result, "errors", None))
        if spent is not None:
            result.data = None  # type: ignore[union-attr]
            result.errors = [spent]  # type: ignore[union-attr]
        elif data and over_cap(data, self.limits.max_response_bytes):
            result.data = None  # type: ignore[union-attr]
            result.errors = [_too_large(self.limits.max_response_bytes)]  # type: ignore[union-attr]

    def _refusal(
        self, operation: OperationDefinitionNode, variable_cost: bool
    ) -> ExecutionResult | None:
        context = self.execution_context
        schema = graphql_schema(context.schema)
        principal = getattr(context.context, "principal", None)
        if principal is not None:
            forbidden = _forbidden(schema, operation, context.graphql_document, principal)
            if forbidden is not None:
                return forbidden
        found = first_long_list(context.variables)
        if found is not None:
            path, length = found
            return ExecutionResult(None, [list_too_long(f"{length:,} items in {path}")])
        if variable_cost and context.graphql_document is not None:
            cost = measure(schema, context.graphql_document, operation, context.variables).cost
            if cost > self.limits.max_cost:
                return ExecutionResult(None, [too_costly(cost, self.limits.max_cost)])
        return None


def _forbidden(
    schema: GraphQLSchema, operation: OperationDefinitionNode, document: Any, principal: Any
) -> ExecutionResult | None:
    """FORBIDDEN for each root field the role may not use, as the field's own
    permission check answers it (null data where the field may be null)."""
    roots = _root_fields(operation, document)
    denied = [
        key
        for key, name in roots.items()
        if not may(principal, root_field_key(operation.operation, name))
    ]
    if not denied:
        return None
    errors = [
        GraphQLError(RoleAllowed.message, path=[key], extensions=RoleAllowed.error_extensions)
        for key in denied
    ]
    fields = schema.get_root_type(operation.operation).fields  # type: ignore[union-attr]
    nullable = all(not is_non_null_type(fields[name].type) for name in roots.values())
    data = dict.fromkeys(roots) if nullable and len(denied) == len(roots) else None
    return ExecutionResult(data, errors)


def _operations(document: Any) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _root_fields(operation: OperationDefinitionNode, document: Any) -> dict[str, str]:
    """Response key to field name, for each root field (``__typename`` aside)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    roots: dict[str, str] = {}
    seen: set[str] = set()
    pending = [operation.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if not name.startswith("__"):
                    roots.setdefault(selection.alias.value if selection.alias else name, name)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                spread = selection.name.value
                if spread not in seen and spread in fragments:
                    seen.add(spread)
                    pending.append(fragments[spread].selection_set)
    return roots


def _needs_operation_name() -> GraphQLError:
    return limit_error("The document has several operations: say which to run with operationName.")


def _too_large(cap: int) -> GraphQLError:
    return too_large(
        f"The response would be larger than {cap:,} bytes. "
        "Ask for smaller pages (first) or fewer fields."
    )
