"""The HTTP boundary: hostile headers and bodies, handed to the app as a
server would (arbitrary header bytes, any body), answered as JSON client errors."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from app.asgi import create_app
from tests.hostile.invariants import check, check_reads, remember
from tests.hostile.profile import hostile
from tests.hostile.strategies import (
    dumps,
    header_bytes,
    hostile_authorization,
    hostile_content_types,
    hostile_json,
    hostile_strings,
    nested,
)

QUERY = "{ viewer { role } }"
WORST_BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"x"',
    b"\xff\xfe{}",
    b"\xef\xbb\xbf{}",
    b'{"query": null}',
    b'{"query": 5}',
    b'{"query": "{ viewer { role } }", "variables": "x"}',
    b'{"query": "{ viewer { role } }", "variables": [1]}',
    b'{"query": "{ viewer { role } }", "variables": {"a": NaN}}',
    b'{"query": "{ viewer { role } }", "operationName": 5}',
    b'{"query": "{ viewer { role } }", "operationName": "Nope"}',
    b'{"query": "{ viewer { role } }", "extensions": [1]}',
    b'{"query": "query A { viewer { role } } query B { viewer { role } }"}',
    b'{"query": "subscription { capabilityStatusEvents(microgridId: \\"x\\") { id } }"}',
    b'{"query": "{ viewer { role } }", "query": "{ nope }"}',
    b'{"query": "{ viewer { role ' + b"(" * 10_000 + b'"}',
    b'{"query": "' + b"{" * 5000 + b'"}',
    b'{"query": "\\ud800"}',
    b'{"query": "{ viewer { role } }\\u0000"}',
    ('{"query": "{ viewer { role } }", "variables": {"a": ' + nested(5000).text + "}}").encode(),
    (
        '{"query": "{ viewer { role } }", "variables": ' + nested(100_000, kind="{").text + "}"
    ).encode(),
    nested(100_000).text.encode(),
    b'{"query": "' + b"a" * 1_000_000 + b'"}',
]

bodies = st.one_of(
    st.sampled_from(WORST_BODIES),
    st.binary(max_size=200),
    st.builds(
        lambda q, v, o: dumps({"query": q, "variables": v, "operationName": o}).encode(),
        st.one_of(st.just(QUERY), hostile_strings),
        hostile_json,
        st.one_of(st.none(), hostile_strings),
    ),
)


async def _asgi(
    app: Any, method: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> httpx.Response:
    """One request through the ASGI app with exactly these header bytes."""
    messages: list[dict[str, Any]] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    try:
        await app(scope, receive, send)
    except Exception as error:  # what a server turns into a 500
        if not any(m["type"] == "http.response.start" for m in messages):
            return httpx.Response(500, text=f"app raised {type(error).__name__}: {error}"[:300])
    start = next(m for m in messages if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return httpx.Response(
        start["status"],
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])],
        content=content,
    )


@hostile
@given(data=st.data())
async def test_hostile_headers_are_client_errors(container, site, http, log, data):
    app = create_app(container)
    auth = data.draw(st.one_of(st.just(f"Bearer {site.token}".encode()), hostile_authorization))
    content_type = data.draw(st.one_of(st.just(b"application/json"), hostile_content_types))
    extra = data.draw(
        st.lists(
            st.tuples(header_bytes.filter(lambda b: b and b.isascii()), header_bytes), max_size=3
        )
    )
    headers = [(b"authorization", auth), (b"content-type", content_type)]
    headers += [(k.lower().replace(b" ", b"-").replace(b":", b"-"), v) for k, v in extra]
    headers += data.draw(
        st.sampled_from(
            [
                [],
                [(b"authorization", b"Bearer other")],
                [(b"content-length", b"99999999999999999999")],
                [(b"content-length", b"-1")],
                [(b"content-length", b"abc")],
                [(b"accept", b"text/html")],
                [(b"accept", b"application/graphql-response+json;q=\xff")],
                [(b"x-long", b"x" * 70_000)],
                [(b"transfer-encoding", b"chunked")],
                [(b"cookie", b"\xff" * 100)],
            ]
        )
    )
    method = data.draw(st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS"]))
    remember(repr((method, headers))[:400])
    response = await _asgi(app, method, headers, dumps({"query": QUERY}).encode())
    if method in {"POST", "GET"} or response.content:
        check(response, log, f"{method} /graphql with hostile headers")


@hostile
@given(data=st.data())
async def test_hostile_bodies_are_client_errors(container, site, http, log, data):
    app = create_app(container)
    body = data.draw(bodies, label="body")
    remember(repr(body[:400]))
    headers = [
        (b"authorization", f"Bearer {site.token}".encode()),
        (b"content-type", b"application/json"),
    ]
    check(await _asgi(app, "POST", headers, body), log, "POST /graphql with a hostile body")
    await check_reads(http, site, log)
