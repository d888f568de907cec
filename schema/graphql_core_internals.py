"""Every use of a non-public graphql-core name, in one module (DESIGN §1).

graphql-core documents ``Executor`` and passing a subclass of it as the
executor class (Strawberry's ``execution_context_class``), ``build``,
``build_per_event_executor`` and ``execute_operation``; "the methods used
internally for executing and completing fields are not part of the public
API". The two below are, so they are adapted here to hooks of our own, and
tests/app/test_graphql_core_internals_guard.py checks their names and
signatures against the installed graphql-core (pinned ``~=`` in
pyproject.toml)."""

from __future__ import annotations

from typing import Any

from graphql import Executor, GraphQLResolveInfo


class ListCompletion(Executor[Any]):
    """Hands every list a field resolved to through :meth:`list_to_complete`
    before its items are completed (graphql-core's ``complete_list_value``,
    whose shape changed between 3.2 and 3.3)."""

    def complete_list_value(
        self,
        return_type: Any,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        items = self.list_to_complete(result, info)
        return super().complete_list_value(
            return_type, field_details_list, info, path, items, position_context
        )

    def list_to_complete(self, items: Any, info: GraphQLResolveInfo[Any]) -> Any:
        """The items to complete for the list field of ``info`` (may raise)."""
        return items


class OwnSubfieldMemo(Executor[Any]):
    """Works around a memory leak in graphql-core 3.3.2 subscriptions.

    Per-event executors are shallow copies of the subscription's executor and
    so share its memo of collected subfields (``_relevant_sub_fields``). That
    memo is keyed by the identity of field lists built anew for every event,
    so it never hits across events and gains entries with every message: a
    long-lived card subscription grew the server with every message
    (bench/soak.py). Each event executor gets a memo of its own, which is all
    the memo is for. Remove when graphql-core fixes it;
    tests/api/test_subscription_memory.py fails if the leak returns."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor
