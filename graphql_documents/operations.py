"""Named GraphQL documents from graphql/operations, each with just the fragments it uses."""

from __future__ import annotations

from functools import cache

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from graphql_documents import GRAPHQL_DIR

OPERATIONS_DIR = GRAPHQL_DIR / "operations"


@cache
def _definitions() -> tuple[dict[str, OperationDefinitionNode], dict[str, FragmentDefinitionNode]]:
    operations: dict[str, OperationDefinitionNode] = {}
    fragments: dict[str, FragmentDefinitionNode] = {}
    for path in sorted(OPERATIONS_DIR.glob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name:
                operations[definition.name.value] = definition
            elif isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
    return operations, fragments


def operation_names() -> list[str]:
    return sorted(_definitions()[0])


@cache
def operation(name: str) -> str:
    """The document for operation ``name``: the operation and its fragments."""
    operations, fragments = _definitions()
    if name not in operations:
        raise KeyError(f"no operation {name!r} in {OPERATIONS_DIR}")
    needed: dict[str, FragmentDefinitionNode] = {}
    pending: list[OperationDefinitionNode | FragmentDefinitionNode] = [operations[name]]
    while pending:
        for spread in _spreads(pending.pop()):
            if spread not in needed:
                needed[spread] = fragments[spread]
                pending.append(fragments[spread])
    document = DocumentNode(definitions=(operations[name], *needed.values()))
    return print_ast(document)


def _spreads(node: OperationDefinitionNode | FragmentDefinitionNode) -> list[str]:
    names: list[str] = []

    class Collect(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            names.append(spread.name.value)

    visit(node, Collect())
    return names
