"""Every use of a non-public graphql-core name, in one module (DESIGN §1).

graphql-core documents ``Executor`` and passing a subclass of it as the
executor class (Strawberry's ``execution_context_class``), ``build``,
``build_per_event_executor`` and ``execute_operation``; "the methods used
internally for executing and completing fields are not part of the public
API". ``complete_list_value``, ``collect_subfields`` and the subfield memo
are, so they are adapted here to hooks of our own, and
tests/app/test_graphql_core_internals_guard.py checks their names and
signatures against the installed graphql-core (pinned ``~=`` in
pyproject.toml)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from graphql import (
    Executor,
    GraphQLFloat,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    is_leaf_type,
    is_non_null_type,
)


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
        records = self.plain_record_list(return_type.of_type, field_details_list, items)
        if records is not None:
            return records
        return super().complete_list_value(
            return_type, field_details_list, info, path, items, position_context
        )

    def list_to_complete(self, items: Any, info: GraphQLResolveInfo[Any]) -> Any:
        """The items to complete for the list field of ``info`` (may raise)."""
        return items

    plain_records: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    """Object types whose selected fields are all leaves read from an attribute
    (GraphQL field name to attribute name), with no resolver, permission or
    argument: a list of them is completed in one pass instead of field by field."""

    def plain_record_list(
        self, item_type: Any, field_details_list: Any, items: Any
    ) -> list[dict[str, Any]] | None:
        """The completed list, or None to complete it the usual way (any other
        type, a deferred fragment, or a value the one pass would not accept)."""
        record_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        attributes = self.plain_records.get(getattr(record_type, "name", ""))
        if attributes is None or not isinstance(items, list | tuple):
            return None
        assert isinstance(record_type, GraphQLObjectType)
        grouped, deferred, _forbidden = self.collect_subfields(record_type, field_details_list)
        if deferred:
            return None
        plan: list[tuple[str, str | None, Callable[[Any], Any] | None, bool]] = []
        for key, details in grouped.items():
            name = details[0].node.name.value
            if name == "__typename":
                plan.append((key, None, None, True))
                continue
            field = record_type.fields.get(name)
            if field is None or name not in attributes:
                return None
            required = is_non_null_type(field.type)
            leaf = field.type.of_type if required else field.type
            if not is_leaf_type(leaf):
                return None
            serialize = None if leaf is GraphQLFloat else self._serializer(leaf)
            plan.append((key, attributes[name], serialize, required))
        self.plain_records_to_complete(len(items), len(plan))
        try:
            return [_record(item, plan, record_type.name) for item in items]
        except Exception:  # the usual completion reports it, with the field's path
            return None

    def plain_records_to_complete(self, count: int, width: int) -> None:
        """Called before ``count`` plain records of ``width`` selected fields
        are built in one pass (may raise)."""

    def _serializer(self, leaf: Any) -> Callable[[Any], Any]:
        """The leaf type's ``serialize``, remembering its answers for this
        execution: a chart's series share their buckets' start instants, and a
        datetime's isoformat is most of a point's cost."""
        memos: dict[str, Callable[[Any], Any]] = self.__dict__.setdefault("_plain_serializers", {})
        found = memos.get(leaf.name)
        if found is None:
            found = memos[leaf.name] = _by_identity(leaf.serialize)
        return found


class _NotPlain(Exception):
    pass


def _by_identity(serialize: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``serialize`` remembering its answer per object. By identity, not
    equality (equal instants in other zones serialise differently); each
    object is kept with its answer, so its identity cannot be reused by
    another while the memo lives."""
    done: dict[int, tuple[Any, Any]] = {}

    def serialize_once(value: Any) -> Any:
        found = done.get(id(value))
        if found is None:
            found = done[id(value)] = (value, serialize(value))
        return found[1]

    return serialize_once


def _record(
    item: Any,
    plan: list[tuple[str, str | None, Callable[[Any], Any] | None, bool]],
    type_name: str,
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, attribute, serialize, required in plan:
        if attribute is None:
            record[key] = type_name
            continue
        value = getattr(item, attribute)
        if value is None:
            if required:
                raise _NotPlain
        elif serialize is not None:
            value = serialize(value)
        elif type(value) is not float or value - value != 0.0:
            raise _NotPlain
        record[key] = value
    return record


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
