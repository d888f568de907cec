"""Hostile values for every boundary: what a broken gateway or an attacker sends.

Each strategy mixes a fixed list of known-worst values with generated ones, so a
small ``max_examples`` still reaches the edges. ``Raw`` wraps JSON text that a
Python value cannot express (bare NaN, 5,000 levels of nesting); ``dumps``
writes a body that may contain it."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st


class Raw:
    """JSON text inserted verbatim where a value goes."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Raw) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else f"{self.text[:40]}…({len(self.text)} chars)"
        return f"Raw({shown!r})"


def dumps(value: Any) -> str:
    """JSON text as a careless client writes it: NaN/Infinity as bare tokens,
    lone surrogates escaped, ``Raw`` pieces verbatim, no recursion limit."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def nested(depth: int, leaf: str = "1", kind: str = "[") -> Raw:
    if kind == "[":
        return Raw("[" * depth + leaf + "]" * depth)
    return Raw('{"a":' * depth + leaf + "}" * depth)


# --- strings ---------------------------------------------------------------

WORST_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\ud83d",  # half an emoji
    "\x07\x1b[31m\x7f",
    "\u202eevil\u202c",  # RTL override
    "\u200f\u200e\ufeff",
    "\r\n\t",
    "😀" * 50,
    "👨‍👩‍👧‍👦",
    "x" * 201,
    "x" * 257,
    "y" * 10_000,
    "'; DROP TABLE depots; --",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    "%s%s%n{0}${jndi:ldap://x}",
    "../../etc/passwd",
    "null",
    "NaN",
    "\\u0000",
    "ﬀ",
    "İ",
]

generated_text = st.text(
    alphabet=st.characters(codec=None, categories=None, min_codepoint=0),
    max_size=300,
)
surrogate_text = st.lists(
    st.one_of(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.characters(max_codepoint=0x1F),
        st.characters(),
    ),
    min_size=1,
    max_size=20,
).map("".join)

hostile_strings = st.one_of(st.sampled_from(WORST_STRINGS), surrogate_text, generated_text)

# --- numbers ---------------------------------------------------------------

NAN, INF, NINF = Raw("NaN"), Raw("Infinity"), Raw("-Infinity")
WORST_NUMBERS: list[Any] = [
    NAN,
    INF,
    NINF,
    float("nan"),
    float("inf"),
    -0.0,
    0,
    -1,
    1e308,
    -1e308,
    5e-324,
    1e9,
    1e9 + 1,
    -1e9 - 1,
    100.000001,
    -0.000001,
    2**31,
    2**53 + 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**400,
    Raw("1e400"),
    Raw("-1e400"),
    Raw("1" + "0" * 5000),
    True,
    False,
    "1",
    "1e3",
    "",
    None,
    [1],
    {"value": 1},
]
hostile_numbers = st.one_of(
    st.sampled_from(WORST_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(),
)
hostile_ints = st.one_of(
    st.sampled_from(WORST_NUMBERS), st.integers(min_value=-(2**70), max_value=2**70)
)

# --- timestamps ------------------------------------------------------------

WORST_DATETIMES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-12:00",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999-12:00",
    "1999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2026-01-01T00:00:00",  # naive
    "2026-01-01",
    "2025-12-31T23:59:60Z",  # leap second
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00+99:99",
    "2026-01-01T00:00:00.123456789Z",
    "2026-01-01T00:00:00Z" + "0" * 10_000,
    "infinity",
    "-infinity",
    "now",
    "",
    "\x00",
    "2026-01-01T00:00:00\x00Z",
    "+002026-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
]
hostile_datetime_strings = st.one_of(
    st.sampled_from(WORST_DATETIMES),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    hostile_strings,
)

# --- ids -------------------------------------------------------------------

WORST_IDS: list[Any] = [
    "",
    "nope",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "00000000000040008000000000000000",
    "{00000000-0000-4000-8000-000000000000}",
    "urn:uuid:00000000-0000-4000-8000-000000000000",
    "00000000-0000-4000-8000-00000000000",
    "00000000-0000-4000-8000-0000000000000",
    "x" * 10_000,
    0,
    -1,
    2**64,
    1.5,
    True,
    None,
    [],
    {},
]
hostile_ids = st.one_of(st.sampled_from(WORST_IDS), st.uuids().map(str), hostile_strings)

# --- JSON values -------------------------------------------------------------

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_strings,
    st.sampled_from([NAN, INF, NINF, Raw("1e400")]),
)
generated_json = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(hostile_strings, inner, max_size=5),
    ),
    max_leaves=20,
)
WORST_JSON: list[Any] = [
    nested(33),
    nested(33, kind="{"),
    nested(1000),
    nested(5000),
    nested(100_000),
    nested(5000, kind="{"),
    list(range(1001)),
    {f"K{i}": i for i in range(1001)},
    {"a": "y" * 200_000},
    Raw('{"a":1,"a":2}'),
]
hostile_json = st.one_of(st.sampled_from(WORST_JSON), generated_json)

# --- cursors ---------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()


CURSOR_BODIES = [
    '{"at": "2026-01-01T00:00:00", "id": "00000000-0000-4000-8000-000000000000"}',
    '{"at": "0001-01-01T00:00:00Z", "id": "00000000-0000-4000-8000-000000000000"}',
    '{"at": "9999-12-31T23:59:59+14:00", "id": "x"}',
    '{"at": NaN, "id": null}',
    '["2026-01-01T00:00:00", "00000000-0000-4000-8000-000000000000"]',
    '{"created_at": "2026-01-01T00:00:00", "id": 1}',
    '{"sequence": 1e400}',
    '{"sequence": -1, "id": "\\u0000"}',
    "2026-01-01T00:00:00|00000000-0000-4000-8000-000000000000",
    "2026-01-01T00:00:00Z|nope",
    "|",
    "",
    "[" * 5000 + "]" * 5000,
]
hostile_cursors = st.one_of(
    st.sampled_from([_b64(body) for body in CURSOR_BODIES]),
    st.sampled_from(
        ["", "=", "====", "not base64 !", "\x00", "\ud800", "A" * 100_000, _b64("x" * 50_000)]
    ),
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
    st.binary(max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
    hostile_strings.map(_b64),
    hostile_strings,
)

# --- headers (bytes, as the server hands them to the app) --------------------

header_bytes = st.binary(max_size=200).map(lambda b: bytes(c for c in b if c not in b"\r\n\x00"))
hostile_authorization = st.one_of(
    st.sampled_from(
        [
            b"",
            b"Bearer",
            b"Bearer ",
            b"bearer  x",
            b"Basic dXNlcjpwYXNz",
            b"Bearer " + b"A" * 100_000,
            b"Bearer \xff\xfe",
            "Bearer tökén".encode(),
            b"Bearer a b c",
            b"Bearer\tx",
            b"Bearer %00",
            b"Bearer ' OR 1=1 --",
            b"Token x",
        ]
    ),
    header_bytes,
    header_bytes.map(lambda b: b"Bearer " + b),
)
hostile_content_types = st.one_of(
    st.sampled_from(
        [
            b"",
            b"application/json",
            b"application/json; charset=latin-1",
            b"application/json; charset=utf-16",
            b"application/json; charset=\xff",
            b"application/graphql",
            b"application/graphql-response+json",
            b"text/plain",
            b"multipart/form-data",
            b"multipart/form-data; boundary=x",
            b"application/x-www-form-urlencoded",
            b"*/*",
            b"application/json" * 1000,
        ]
    ),
    header_bytes,
)
