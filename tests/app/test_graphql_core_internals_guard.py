"""schema/graphql_core_internals.py holds every use of a non-public
graphql-core name: fail here, not in production, if an upgrade renames or
reshapes one (graphql-core is pinned ~= in pyproject.toml). The behaviour is
covered by tests/api/test_query_limits.py (the list budget) and
tests/api/test_subscription_memory.py (the subfield memo)."""

from __future__ import annotations

import inspect

from graphql import Executor, build_schema, parse
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
    names = ("_relevant_sub_fields", "complete_list_value")
    assert modules_naming(names, "schema/graphql_core_internals.py") == []
