"""Enum values read from the exported SDL (graphql/schema.graphql), so a client
takes lists such as the capability types from the schema instead of repeating them."""

from __future__ import annotations

from functools import cache

from graphql import EnumTypeDefinitionNode, parse
from graphql_documents import GRAPHQL_DIR

SDL_PATH = GRAPHQL_DIR / "schema.graphql"


@cache
def _enums() -> dict[str, tuple[str, ...]]:
    document = parse(SDL_PATH.read_text(), no_location=True)
    return {
        definition.name.value: tuple(value.name.value for value in definition.values or ())
        for definition in document.definitions
        if isinstance(definition, EnumTypeDefinitionNode)
    }


def enum_values(type_name: str) -> tuple[str, ...]:
    """The values of enum ``type_name`` in the SDL's order."""
    try:
        return _enums()[type_name]
    except KeyError:
        raise KeyError(f"no enum {type_name!r} in {SDL_PATH}") from None
