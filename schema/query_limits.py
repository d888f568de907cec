"""Depth, aliases and cost of an operation, in time linear in the document.

Each fragment is measured once, in dependency order, and its measure reused at
every spread: a document whose fragments spread each other twice (2**n
expansions) costs n steps, not 2**n. Strawberry's QueryDepthLimiter and
MaxAliasesLimiter re-walked every spread; an 829-byte document kept the event
loop for 12.7 s. A spread of an unknown fragment, or one closing a cycle (the
spec rule NoFragmentCycles reports those), counts as nothing, so the walk
always ends.

Cost is the number of fields the operation may resolve: each field counts 1,
times the ``first`` of every paginated field on its path (a field with a
``first`` argument multiplies its subtree by that page size, clamped to 1..100
like the resolvers; absent, the argument's default). A field with a
``maxPoints`` argument (loadChart) multiplies its subtree by maxPoints / 100,
rounded up: a 1,000-point chart counts like a page of 10, a 5,000-point one
like a page of 50."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from domain.load_chart import MAX_POINTS
from graphql import (
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    Visitor,
    get_named_type,
    visit,
)
from resolvers.errors import problem

PAGE_CAP = 100
"""The resolvers cap ``first`` at 100 (DESIGN §5)."""
MAX_LIST_ITEMS = 1_000
"""Any list input (DESIGN §2 "Plausible input")."""
MAX_OVERLAP_CHECKS = 2_500
"""Pairs of same-named fields, and of fragment spreads, within one selection set:
the spec rule OverlappingFieldsCanBeMerged compares each pair (800 copies of one
field took it 6 s)."""
_SATURATED = 1 << 62


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int
    aliases: int
    cost: int
    uses_variables: bool
    """Some ``first`` on the way came from a variable: the cost holds only for
    the variables it was measured with."""
    size: int
    """Fields with every fragment expanded, pages not counted: never more than
    the cost, whatever the variables."""


NOTHING = Measure(0, 0, 0, False, 0)


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation: OperationDefinitionNode | None,
    ) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.defaults = {
            d.variable.name.value: d.default_value
            for d in (operation.variable_definitions if operation else ()) or ()
        }
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.overlap_checks = 0
        self.fragments: dict[str, Measure] = {}
        for name in _dependency_order(fragments):
            fragment = fragments[name]
            on = schema.get_type(fragment.type_condition.name.value)
            self.fragments[name] = self.selection_set(fragment.selection_set, on)

    def selection_set(self, node: SelectionSetNode, parent: GraphQLNamedType | None) -> Measure:
        depth = aliases = cost = size = 0
        uses_variables = False
        fields = getattr(parent, "fields", None) or {}
        self.overlap_checks += _pairs(node)
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                cost += 1
                size += 1
                if selection.selection_set is None:
                    continue
                definition = fields.get(selection.name.value)
                child = self.selection_set(
                    selection.selection_set,
                    get_named_type(definition.type) if definition else None,
                )
                page, from_variable = self.page_size(selection, definition)
                depth = max(depth, child.depth + 1)
                cost += page * child.cost
                uses_variables = uses_variables or from_variable
            else:
                child = self.fragment(selection, parent)
                depth = max(depth, child.depth)
                cost += child.cost
            aliases += child.aliases
            size += child.size
            uses_variables = uses_variables or child.uses_variables
        return Measure(
            depth,
            min(aliases, _SATURATED),
            min(cost, _SATURATED),
            uses_variables,
            min(size, _SATURATED),
        )

    def fragment(self, node: Any, parent: GraphQLNamedType | None) -> Measure:
        if isinstance(node, FragmentSpreadNode):
            return self.fragments.get(node.name.value, NOTHING)
        assert isinstance(node, InlineFragmentNode)
        condition = node.type_condition
        on = self.schema.get_type(condition.name.value) if condition else parent
        return self.selection_set(node.selection_set, on)

    def page_size(self, node: FieldNode, definition: GraphQLField | None) -> tuple[int, bool]:
        """How many times the field's subtree counts: its ``first`` (1..100), or
        one per 100 points of its ``maxPoints`` (loadChart's series hold up to
        maxPoints points each), or once."""
        for name, to_page in _MULTIPLIERS.items():
            argument = definition.args.get(name) if definition else None
            if argument is not None:
                value, from_variable = self.argument(node, name, argument.default_value)
                return to_page(value), from_variable
        return 1, False

    def argument(self, node: FieldNode, name: str, default: Any) -> tuple[Any, bool]:
        """The argument's value as sent (literal, variable or default), and
        whether it came from a variable."""
        given = next((a.value for a in node.arguments or () if a.name.value == name), None)
        value: Any = default
        if isinstance(given, VariableNode):
            variable = given.name.value
            if variable in self.variables:
                value = self.variables[variable]
            elif isinstance(self.defaults.get(variable), IntValueNode):
                value = _literal_int(self.defaults[variable].value)  # type: ignore[union-attr, arg-type]
            return value, True
        if isinstance(given, IntValueNode):
            value = _literal_int(given.value)
        return value, False


def _first_page(value: Any) -> int:
    return min(max(value, 1), PAGE_CAP) if type(value) is int else PAGE_CAP


POINTS_PER_COST_UNIT = 100


def _points_page(value: Any) -> int:
    """loadChart refuses more than MAX_POINTS; an unusable value counts as the most."""
    points = min(max(value, 1), MAX_POINTS) if type(value) is int else MAX_POINTS
    return -(-points // POINTS_PER_COST_UNIT)


_MULTIPLIERS = {"first": _first_page, "maxPoints": _points_page}


def _literal_int(text: str) -> int | None:
    """An Int literal's value; None for one too long to be an Int (refused anyway)."""
    return int(text) if len(text) <= MAX_NUMBER_LITERAL else None


def _pairs(node: SelectionSetNode) -> int:
    keys: dict[str, int] = {}
    spreads = 0
    for selection in node.selections:
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            keys[key] = keys.get(key, 0) + 1
        elif isinstance(selection, FragmentSpreadNode):
            spreads += 1
    return spreads * spreads + sum(n * n for n in keys.values() if n > 1)


def _dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after the fragments it spreads (iterative: a chain
    of hundreds of fragments must not exhaust the stack)."""
    order: list[str] = []
    seen: set[str] = set()
    for start in fragments:
        if start in seen:
            continue
        seen.add(start)
        stack: list[tuple[str, Iterator[str]]] = [(start, _spreads(fragments[start]))]
        while stack:
            name, pending = stack[-1]
            spread = next(pending, None)
            if spread is None:
                stack.pop()
                order.append(name)
            elif spread in fragments and spread not in seen:
                seen.add(spread)
                stack.append((spread, _spreads(fragments[spread])))
    return order


def _spreads(fragment: FragmentDefinitionNode) -> Iterator[str]:
    pending = [fragment.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set:
                pending.append(selection.selection_set)


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None = None,
) -> Measure:
    """The operation's depth, aliases and cost, ``first`` taken from ``variables``
    (raw, as sent) where the document names one."""
    walk = _Walk(schema, document, variables, operation)
    root = schema.get_root_type(operation.operation)
    return walk.selection_set(operation.selection_set, root)


def document_errors(
    schema: GraphQLSchema, document: DocumentNode, max_depth: int, max_aliases: int, max_cost: int
) -> list[GraphQLError]:
    """Every operation's depth, aliases and cost against the limits. Run before
    the spec's rules, and instead of them when it fails: some of those
    (OverlappingFieldsCanBeMerged) take time in the expanded size."""
    errors: list[GraphQLError] = []
    walk = _Walk(schema, document, None, None)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        found = walk.selection_set(
            definition.selection_set, schema.get_root_type(definition.operation)
        )
        if found.depth > max_depth:
            detail = f"The query exceeds maximum operation depth of {max_depth} ({found.depth})."
            errors.append(limit_error(detail, definition))
        if found.aliases > max_aliases:
            detail = f"{found.aliases:,} aliases found; the limit is {max_aliases}."
            errors.append(limit_error(detail, definition))
        least = found.size if found.uses_variables else found.cost
        if least > max_cost:
            errors.append(too_costly(least, max_cost, definition))
    if walk.overlap_checks > MAX_OVERLAP_CHECKS:
        detail = (
            "Too many fields share a name, or too many fragments are spread, in one "
            f"selection set ({walk.overlap_checks:,} comparisons; the limit is "
            f"{MAX_OVERLAP_CHECKS:,})."
        )
        errors.append(limit_error(detail))
    errors.extend(_number_literal_errors(document))
    return errors


MAX_NUMBER_LITERAL = 40
"""Characters of a number literal: more than any Int or Float needs. graphql-core
would convert a longer one first (a ValueError past 4,300 digits)."""


def _number_literal_errors(document: DocumentNode) -> list[GraphQLError]:
    found: list[GraphQLError] = []

    class Numbers(Visitor):
        def enter_int_value(self, node: IntValueNode, *_args: Any) -> None:
            self.check(node)

        def enter_float_value(self, node: FloatValueNode, *_args: Any) -> None:
            self.check(node)

        def check(self, node: IntValueNode | FloatValueNode) -> None:
            if len(node.value) > MAX_NUMBER_LITERAL and not found:
                detail = f"Number literals have at most {MAX_NUMBER_LITERAL} characters."
                found.append(limit_error(detail, node))

    visit(document, Numbers())
    return found


class ListLiteralLimit(ValidationRule):
    def enter_list_value(self, node: ListValueNode, *_args: Any) -> None:
        if len(node.values) > MAX_LIST_ITEMS:
            self.report_error(list_too_long(f"a list of {len(node.values):,} items", node))


def coded_error(code: str, title: str, detail: str, node: Any = None) -> GraphQLError:
    """A client error (400) refused by a limit, with its problem extensions."""
    return GraphQLError(detail, node, extensions=problem(code, title, 400, detail))


def limit_error(detail: str, node: Any = None) -> GraphQLError:
    return coded_error("GRAPHQL_VALIDATION_FAILED", "Invalid request", detail, node)


def list_too_long(where: str, node: Any = None) -> GraphQLError:
    detail = f"Lists may hold at most {MAX_LIST_ITEMS:,} items; the request has {where}."
    return coded_error("LIST_TOO_LONG", "List too long", detail, node)


def too_costly(cost: int, limit: int, node: Any = None) -> GraphQLError:
    detail = (
        f"This query may resolve {cost:,} fields (each field times the `first` of every "
        "paginated field, and maxPoints / 100 of every chart, on its path); the limit is "
        f"{limit:,}. Ask for smaller pages, fewer points or fewer fields."
    )
    return coded_error("QUERY_TOO_COSTLY", "Query too costly", detail, node)
