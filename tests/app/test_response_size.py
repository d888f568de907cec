"""schema.response_size: the cap is judged on the bytes the HTTP view would
send (orjson), and where orjson refuses, by the walk, which counts what it
always counted (an object's plain values counted in place give the same size
as queueing each of them)."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schema.response_size import larger_than, over_cap


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


@settings(max_examples=150, deadline=None)
@given(data=values, slack=st.integers(-3, 3))
def test_over_cap_is_the_encoded_size_or_the_walk_where_orjson_refuses(data, slack):
    """What the HTTP view would send, byte for byte; a value orjson refuses (a
    lone surrogate, an integer past 64 bits, a key that is not a string) is
    judged by the walk, never an exception."""
    try:
        size = len(orjson.dumps(data))
    except TypeError:
        size = reference_size(data)
        cap = max(0, size + slack)
        assert over_cap(data, cap) == larger_than(data, cap)
        return
    cap = max(0, size + slack)
    assert over_cap(data, cap) == (size > cap)


def test_a_lone_surrogate_or_a_huge_integer_is_still_measured():
    assert over_cap({"message": "bad \ud800 input"}, 10)
    assert not over_cap({"n": 10**30}, 1000)
