"""Schemathesis hooks: how to generate values of the service's JSON scalar."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

import graphql


def to_node(value: Any) -> graphql.ValueNode:
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(to_node(v) for v in value))
    return graphql.ObjectValueNode(
        fields=tuple(
            graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=to_node(v))
            for k, v in value.items()
        )
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False, width=32),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), inner, max_size=4)
    ),
    max_leaves=10,
)

schemathesis.graphql.scalar("JSON", json_values.map(to_node))

LEAKS = ("Traceback", 'File "', "/work/", "site-packages", "SELECT ", "sqlalchemy", "asyncpg")


@schemathesis.check
def errors_are_masked_and_coded(ctx: Any, response: Any, case: Any) -> bool | None:
    """No stack trace, SQL or file path in a response; every GraphQL error coded."""
    text = response.text
    for leak in LEAKS:
        if leak in text:
            raise AssertionError(f"response leaks {leak!r}")
    try:
        body = response.json()
    except ValueError:
        return None
    for error in (body.get("errors") or []) if isinstance(body, dict) else []:
        if not (error.get("extensions") or {}).get("code"):
            raise AssertionError(f"error without extensions.code: {error}")
    return None
