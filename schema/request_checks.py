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
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    validate,
)
from resolvers.errors import problem
from schema.access import RoleAllowed, root_field_key
from schema.query_limits import document_errors, list_too_long, measure, too_costly
from schema.response_size import larger_than
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
        schema = context.schema._schema
        errors = _limit_errors(schema, document, self.limits) or _validate(
            schema, document, context.validation_rules, self.limits.hide_suggestions
        )
        if not errors and not self.named and _operations(document) > 1:
            errors = [_needs_operation_name()]
        context.pre_execution_errors = errors
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        found = _operation(context.schema._schema, context.graphql_document, context.operation_name)
        if found is not None:
            self._refuse_early(*found)
        yield
        result = context.result
        data = getattr(result, "data", None)
        if data and larger_than(data, self.limits.max_response_bytes):
            result.data = None  # type: ignore[union-attr]
            result.errors = [_too_large(self.limits.max_response_bytes)]  # type: ignore[union-attr]

    def _refuse_early(self, operation: OperationDefinitionNode, variable_cost: bool) -> None:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        if principal is not None:
            for name in _root_fields(operation, context.graphql_document):
                if not may(principal, root_field_key(operation.operation, name)):
                    raise GraphQLError(RoleAllowed.message, extensions=RoleAllowed.error_extensions)
        found = first_long_list(context.variables)
        if found is not None:
            path, length = found
            raise list_too_long(f"{length:,} items in {path}")
        if variable_cost:
            schema = context.schema._schema
            cost = measure(schema, context.graphql_document, operation, context.variables).cost
            if cost > self.limits.max_cost:
                raise too_costly(cost, self.limits.max_cost)


def _operations(document: Any) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def _root_fields(operation: OperationDefinitionNode, document: Any) -> set[str]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: set[str] = set()
    seen: set[str] = set()
    pending = [operation.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if not selection.name.value.startswith("__"):
                    names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif selection.name.value not in seen and selection.name.value in fragments:
                seen.add(selection.name.value)
                pending.append(fragments[selection.name.value].selection_set)
    return names


def _needs_operation_name() -> GraphQLError:
    detail = "The document has several operations: say which to run with operationName."
    return GraphQLError(
        detail, extensions=problem("GRAPHQL_VALIDATION_FAILED", "Invalid request", 400, detail)
    )


def _too_large(cap: int) -> GraphQLError:
    detail = (
        f"The response would be larger than {cap:,} bytes. "
        "Ask for smaller pages (first) or fewer fields."
    )
    return GraphQLError(
        detail, extensions=problem("RESPONSE_TOO_LARGE", "Response too large", 400, detail)
    )
