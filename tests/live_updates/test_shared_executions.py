"""One execution per shared payload and group of identical subscriptions
(live_updates/shared_executions.py, live_updates/executor.py), run by
graphql-core itself through the executor class Strawberry is given.
tests/api/test_subscriptions.py covers the same through the real app."""

from __future__ import annotations

import json
from typing import Any

from graphql import ExecutionResult, build_schema, parse
from live_updates.executor import LiveExecutor
from live_updates.shared_executions import (
    SharedData,
    encode_next_message,
    finished,
    key_of,
    share,
)

SCHEMA = build_schema(
    """
    type Query { ping: Int }
    type Subscription { card(depotId: ID!): Card }
    type Card { revision: Int reads: Int broken: Int }
    """
)
DOCUMENT = parse("subscription ($d: ID!) { card(depotId: $d) { revision reads } }")


class Payload:
    """A subscription event whose field resolvers count their calls."""

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.calls = 0

    @property
    def card(self) -> Payload:
        return self

    @property
    def reads(self) -> int:
        self.calls += 1
        return self.calls

    @property
    def broken(self) -> int:
        raise RuntimeError("no")


def _subscription(depot: str = "d1", document: Any = DOCUMENT) -> LiveExecutor:
    executor = LiveExecutor.build(SCHEMA, document, raw_variable_values={"d": depot})
    assert isinstance(executor, LiveExecutor)
    return executor


def _event(executor: LiveExecutor, payload: object) -> ExecutionResult:
    result = executor.build_per_event_executor(payload).execute_operation(False)
    assert isinstance(result, ExecutionResult)
    return result


def test_subscriptions_with_the_same_document_and_variables_share_one_execution():
    payload = share(Payload(7))
    results = [_event(_subscription(), payload) for _ in range(3)]
    assert payload.calls == 1
    assert all(r is results[0] for r in results)
    assert type(results[0].data) is SharedData
    assert results[0].data == {"card": {"revision": 7, "reads": 1}}
    assert finished(payload, key_of(_subscription())) is results[0]


def test_other_variables_or_documents_execute_on_their_own():
    payload = share(Payload(7))
    _event(_subscription("d1"), payload)
    _event(_subscription("d2"), payload)
    _event(
        _subscription("d1", parse("subscription ($d: ID!) { card(depotId: $d) { reads } }")),
        payload,
    )
    assert payload.calls == 3


def test_a_payload_not_marked_as_shared_executes_per_subscription():
    payload = Payload(7)
    first, second = _event(_subscription(), payload), _event(_subscription(), payload)
    assert payload.calls == 2 and first is not second
    assert type(first.data) is dict


def test_a_result_with_errors_is_not_shared():
    document = parse("subscription ($d: ID!) { card(depotId: $d) { reads broken } }")
    payload = share(Payload(7))
    first = _event(_subscription(document=document), payload)
    second = _event(_subscription(document=document), payload)
    assert first.errors and second.errors
    assert payload.calls == 2
    assert finished(payload, key_of(_subscription(document=document))) is None


def test_a_shared_next_message_is_the_same_json_as_the_plain_one():
    data = SharedData({"microgridCard": {"reason": "SNAPSHOT", "card": {"revision": 3}}})
    message = {"id": "op-1", "type": "next", "payload": {"data": data}}
    encoded = encode_next_message(message)
    assert encoded is not None and json.loads(encoded) == json.loads(json.dumps(message))
    assert encode_next_message({"id": "x", "type": "next", "payload": {"data": {}}}) is None
