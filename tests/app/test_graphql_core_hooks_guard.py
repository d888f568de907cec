"""schema/result_budget.py overrides graphql-core's executor method that
completes a list (no underscore, but its shape changed between 3.2 and 3.3):
fail here, not in production, if an upgrade changes it. The behaviour is
covered by tests/api/test_query_limits.py."""

from __future__ import annotations

import inspect

from graphql.execution.executor import Executor

from schema.result_budget import ListItemBudget


def test_complete_list_value_has_the_shape_the_budget_overrides():
    expected = list(inspect.signature(ListItemBudget.complete_list_value).parameters)
    assert list(inspect.signature(Executor.complete_list_value).parameters) == expected
