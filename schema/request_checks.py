"""Parsing and validation, each cached by query text, with the service's limits.

One extension instead of Strawberry's four (AddValidationRules,
MaxTokensLimiter, ParserCache, ValidationCache): Strawberry enters every
extension's hooks on every request and every subscription message, and those
four did nothing per request that one cannot."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from strawberry.extensions import SchemaExtension

from graphql import ASTValidationRule, parse

CACHE_SIZE = 256
"""Distinct query texts kept parsed and validated (bounded: hostile clients can
send unique texts)."""

_parse = lru_cache(maxsize=CACHE_SIZE)(parse)


@lru_cache(maxsize=CACHE_SIZE)
def _validate(schema: Any, document: Any, rules: tuple[type[ASTValidationRule], ...]) -> Any:
    from strawberry.schema.schema import validate_document

    return validate_document(schema, document, rules)


class RequestChecks(SchemaExtension):
    def __init__(self, rules: Sequence[type[ASTValidationRule]], max_tokens: int) -> None:
        self.rules = tuple(rules)
        self.max_tokens = max_tokens

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = (*context.validation_rules, *self.rules)
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.graphql_document = _parse(context.query, **context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.pre_execution_errors = _validate(
            context.schema._schema, context.graphql_document, context.validation_rules
        )
        yield
