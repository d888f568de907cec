"""The library hooks the card fan-out relies on (schema/shared_events.py,
schema/root.py). If an upgrade of Strawberry or graphql-core renames one, the
overrides would silently stop applying and fan-out would cost one execution
per subscriber again: fail here instead."""

from __future__ import annotations

import strawberry
from graphql.execution.executor import Executor
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.root import MicrogridSchema, build_schema
from schema.shared_events import SharedData, encode_next_message


def test_the_library_hooks_the_fan_out_overrides_still_exist():
    assert "_handle_execution_result" in vars(strawberry.Schema)
    assert "create_extensions_runner" in vars(strawberry.Schema)
    assert "on_stream_result" in vars(SchemaExtensionsRunner)
    assert "build_per_event_executor" in vars(Executor)
    assert isinstance(build_schema(), MicrogridSchema)


def test_a_shared_next_message_is_the_same_json_as_the_plain_one():
    import json

    data = SharedData({"microgridCard": {"reason": "SNAPSHOT", "card": {"revision": 3}}})
    message = {"id": "op-1", "type": "next", "payload": {"data": data}}
    encoded = encode_next_message(message)
    assert encoded is not None and json.loads(encoded) == json.loads(json.dumps(message))
    assert encode_next_message({"id": "x", "type": "next", "payload": {"data": {}}}) is None
