"""schema.response_size counts what it always counted: an object's plain values
counted in place give the same size as queueing each of them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schema.response_size import larger_than


def reference_size(data: Any) -> int:
    """The count, one value at a time."""
    size = 0
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            size += len(value) + 3 if value.isascii() else 6 * len(value) + 3
        elif isinstance(value, dict):
            size += 2
            for key, item in value.items():
                size += len(key) + 8 if isinstance(key, str) else 8
                pending.append(item)
        elif isinstance(value, (list, tuple)):
            size += 2 + len(value)
            pending.extend(value)
        else:
            size += 8
    return size


class Text(str):
    pass


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.text(max_size=5).map(Text),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=5),
    ),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None)
@given(data=values, slack=st.integers(-3, 3))
def test_larger_than_agrees_with_the_one_at_a_time_count(data, slack):
    size = reference_size(data)
    cap = max(0, size + slack)
    assert larger_than(data, cap) == (size > cap)
