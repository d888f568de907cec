"""schema/graphql_core_internals.py holds every use of a non-public
graphql-core name: fail here, not in production, if an upgrade renames or
reshapes one (graphql-core is pinned ~= in pyproject.toml). The behaviour is
covered by tests/api/test_query_limits.py (the list budget) and
tests/api/test_subscription_memory.py (the subfield memo)."""

from __future__ import annotations

import inspect

from graphql.execution.collect_fields import FieldDetails

from graphql import Executor, FieldNode, NameNode, build_schema, parse
from schema.graphql_core_internals import ListCompletion, OwnSubfieldMemo
from tests.support.internals import modules_naming


def _params(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_complete_list_value_has_the_shape_list_completion_overrides():
    assert _params(Executor.complete_list_value) == _params(ListCompletion.complete_list_value)
    assert _params(Executor.complete_list_value) == [
        "self",
        "return_type",
        "field_details_list",
        "info",
        "path",
        "result",
        "position_context",
    ]


def test_collect_subfields_gives_the_grouped_fields_the_plain_record_lists_complete():
    """``ListCompletion.plain_record_list`` reads the collected subfields of a
    list's item type: response key to field details, each with its node, and
    the deferred fragments (none means all fields complete now)."""
    assert _params(Executor.collect_subfields) == ["self", "return_type", "field_details_list"]
    schema = build_schema("type Query { a: [P] } type P { x: Int y: Int }")
    executor = Executor.build(schema, parse("{ a { x b: y ... on P { x } } }"))
    assert isinstance(executor, Executor)
    root = executor.collect_subfields(schema.query_type, [FieldDetails(_root_node(), None)])  # type: ignore[arg-type]
    grouped, deferred, _forbidden = root
    (a,) = grouped.values()
    item = schema.get_type("P")
    grouped, deferred, _forbidden = executor.collect_subfields(item, a)  # type: ignore[arg-type]
    assert deferred == []
    assert {key: [d.node.name.value for d in details] for key, details in grouped.items()} == {
        "x": ["x", "x"],
        "b": ["y"],
    }


def test_per_event_executors_are_copies_sharing_the_subfield_memo_we_replace():
    assert _params(Executor.build_per_event_executor) == ["self", "payload"]
    assert _params(OwnSubfieldMemo.build_per_event_executor) == ["self", "payload"]
    assert "copy(self)" in inspect.getsource(Executor.build_per_event_executor)
    assert "self._relevant_sub_fields" in inspect.getsource(Executor.collect_subfields)
    schema = build_schema("type Query { a: Int } type Subscription { a: Int }")
    executor = Executor.build(schema, parse("subscription { a }"))
    assert isinstance(executor, Executor)
    assert executor._relevant_sub_fields == {}
    assert executor.build_per_event_executor({})._relevant_sub_fields is (
        executor._relevant_sub_fields
    ), "graphql-core no longer shares the memo: schema/graphql_core_internals.py can go"


def test_the_public_methods_the_executors_override_keep_their_shape():
    assert _params(Executor.execute_operation) == ["self", "serially"]
    assert "hide_suggestions" in _params(Executor.build)


def test_no_other_module_uses_these_names():
    names = ("_relevant_sub_fields", "complete_list_value", "collect_subfields")
    assert modules_naming(names, "schema/graphql_core_internals.py") == []


def _root_node() -> FieldNode:
    """A field whose selection is the operation's (collect_subfields starts from a field)."""
    document = parse("{ a { x b: y ... on P { x } } }")
    operation = document.definitions[0]
    return FieldNode(name=NameNode(value="query"), selection_set=operation.selection_set)  # type: ignore[attr-defined]
