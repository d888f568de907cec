"""A budget on the list items one query or mutation completes.

The cost limit multiplies by ``first`` where a list is paginated; it cannot
know how long an unpaginated list is (a depot's circuits, a circuit's
children, a microgrid's topology). The executor counts the items of every list
it completes; past the budget it raises one error and completes every later
list as empty (cheap: no error per field), and the request checks answer that
one error without data. So no stored data can make one read stall the server.

Lists of plain records (the executor's ``plain_records``: the load chart's
points), completed in one pass at a small fraction of an object's cost, are
counted apart against a larger budget of their own: a 20-series chart at
5,000 points holds 100,000. Their selected fields are counted too, before
each list is built: aliasing a point's fields many times over multiplies the
work without adding points (the cost limit cannot see how many series a
depot has)."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, OperationType, get_named_type
from schema.graphql_core_internals import ListCompletion
from schema.query_limits import coded_error

CODE = "RESPONSE_TOO_LARGE"


class ListItemBudget(ListCompletion):
    max_items = 10_000
    max_records = 120_000
    max_record_values = 720_000
    """A 20-series chart at 5,000 points with every field and ``__typename``
    holds 600,000; 120,000 points of six fields."""
    _items = 0
    _records = 0
    _record_values = 0
    _spent = False

    def plain_records_to_complete(self, count: int, width: int) -> None:
        self._record_values += count * width
        if self._record_values > self.max_record_values:
            self._spent = True
            raise too_many_values(self.max_record_values)

    def list_to_complete(self, items: Any, info: GraphQLResolveInfo[Any]) -> Any:
        if isinstance(items, Sized) and info.operation.operation is not OperationType.SUBSCRIPTION:
            if self._spent:
                return []
            if get_named_type(info.return_type).name in self.plain_records:
                self._records += len(items)
                if self._records > self.max_records:
                    self._spent = True
                    raise too_many_records(self.max_records)
                return items
            self._items += len(items)
            if self._items > self.max_items:
                self._spent = True
                raise too_many_items(self.max_items)
        return items


def too_many_items(limit: int) -> GraphQLError:
    return too_large(
        f"This query's lists hold more than {limit:,} items in all; "
        "select fewer or smaller lists (for example fewer nested children)."
    )


def too_many_records(limit: int) -> GraphQLError:
    return too_large(
        f"This query's charts hold more than {limit:,} points in all; "
        "ask for fewer points (maxPoints) or fewer charts."
    )


def too_many_values(limit: int) -> GraphQLError:
    return too_large(
        f"This query's charts hold more than {limit:,} point fields in all; "
        "select fewer fields per point, or ask for fewer points or charts."
    )


def too_large(detail: str) -> GraphQLError:
    return coded_error(CODE, "Response too large", detail)


def budget_error(errors: list[GraphQLError] | None) -> GraphQLError | None:
    """The budget's error among a result's errors, if the budget ran out (no
    resolver raises this code: it is the budget's, or the response cap's)."""
    return next((e for e in errors or () if (e.extensions or {}).get("code") == CODE), None)
