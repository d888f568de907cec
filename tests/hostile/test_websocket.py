"""graphql-transport-ws frames: hostile connection_init, subscribe messages,
non-JSON and binary frames, before and after the ack. The server answers with
protocol messages or closes with a 44xx code (or a normal close), never an
abnormal close (1006) or an internal error (1011); a fresh connection still
gets its card afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.invariants import (
    Site,
    assert_no_traceback,
    check_reads,
    fail,
    remember,
    strict_loads,
)
from tests.hostile.profile import hostile
from tests.hostile.strategies import (
    dumps,
    hostile_ids,
    hostile_json,
    hostile_strings,
    nested,
)
from tests.support.live_server import live_server
from tests.support.ws import WsClient

ALLOWED_CLOSES = {1000, 1001, 1008, 1009, 4400, 4401, 4403, 4408, 4409, 4413, 4429}
CARD = "subscription ($d: ID!) { microgridCard(depotId: $d) { reason card { revision } } }"
ANSWER_WITHIN = 10  # a safety net only: every wait ends on a frame or a close


@pytest.fixture
async def live(container, site: Site, log):
    async with live_server(container) as url:
        uvicorn = logging.getLogger("uvicorn")
        uvicorn.addHandler(log)
        yield url
        uvicorn.removeHandler(log)


def _frame(value: Any) -> str | bytes:
    return value if isinstance(value, str | bytes) else dumps(value)


def init_frames(token: str) -> st.SearchStrategy[Any]:
    good = {"Authorization": f"Bearer {token}"}
    return st.one_of(
        st.builds(
            lambda p: {"type": "connection_init", "payload": p},
            st.one_of(
                hostile_json,
                st.builds(lambda a: {"Authorization": a}, hostile_strings),
                st.builds(lambda a: {"authorization": a}, st.one_of(hostile_json, hostile_ids)),
                st.builds(lambda t: {"token": t}, st.one_of(hostile_strings, hostile_json)),
                st.builds(lambda k, v: {**good, k: v}, hostile_strings, hostile_json),
            ),
        ),
        st.builds(lambda t: {"type": t, "payload": good}, st.one_of(hostile_json, hostile_strings)),
        st.sampled_from(
            [
                {"type": "connection_init", "payload": good, "id": {"a": 1}},
                {"type": "connection_init", "payload": nested(5000)},
                {"type": "connection_init", "payload": {"x": "y" * 17_000}},
                {"type": "connection_init", "payload": {"x": "y" * 1_100_000}},
                nested(100_000, kind="{"),
                "not json",
                "",
                b"\x00\xff",
                b'{"type": "connection_init"}',
                "[]",
                "null",
                '{"type": "connection_init", "payload": NaN}',
                '{"type": "connection_init", "payload": {"Authorization": "\\ud800"}}',
            ]
        ),
    )


def after_ack_frames(site: Site) -> st.SearchStrategy[Any]:
    valid_payload = {"query": CARD, "variables": {"d": site.depot_id}}
    return st.one_of(
        st.builds(
            lambda i: {"id": i, "type": "subscribe", "payload": valid_payload},
            st.one_of(hostile_ids, hostile_json, st.just("x" * 100_000)),
        ),
        st.builds(
            lambda p: {"id": "1", "type": "subscribe", "payload": p},
            st.one_of(
                hostile_json,
                st.builds(lambda q: {"query": q}, st.one_of(hostile_strings, hostile_json)),
                st.builds(
                    lambda v: {"query": CARD, "variables": v},
                    st.one_of(hostile_json, st.builds(lambda d: {"d": d}, hostile_ids)),
                ),
                st.builds(
                    lambda o: {**valid_payload, "operationName": o},
                    st.one_of(hostile_strings, hostile_json),
                ),
                st.builds(lambda e: {**valid_payload, "extensions": e}, hostile_json),
            ),
        ),
        st.builds(
            lambda t, i: {"id": i, "type": t},
            st.sampled_from(["complete", "ping", "pong", "next", "error", "connection_ack"]),
            st.one_of(hostile_ids, hostile_json),
        ),
        st.sampled_from(
            [
                {"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { role } }"}},
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {
                        "query": "mutation { backfillMicrogrids(dryRun: true) { created } }"
                    },
                },
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": CARD, "variables": nested(5000)},
                },
                {"type": "connection_init", "payload": {}},
                {"id": "1", "type": "ping", "payload": nested(33)},
                nested(5000),
                "not json",
                b"\x00\xff",
                "y" * 2_000_000,
            ]
        ),
    )


async def _answer(ws: Any, what: str) -> None:
    """Read until our ping is answered or the socket closes; judge every frame."""
    try:
        while True:
            raw = await asyncio.wait_for(ws.recv(), ANSWER_WITHIN)
            try:
                message = strict_loads(raw)
            except ValueError as error:
                fail(what, "frame is not strict JSON", f"{error}: {str(raw)[:300]}")
                continue
            text = json.dumps(message)
            if "INTERNAL_SERVER_ERROR" in text:
                fail(what, "INTERNAL_SERVER_ERROR", text[:300])
            if message.get("type") == "error":
                for error in message.get("payload") or []:
                    if not (error.get("extensions") or {}).get("code"):
                        fail(what, "error without extensions.code", json.dumps(error)[:300])
            if message.get("type") == "pong":
                return
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
    except websockets.ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else 1006
        if code not in ALLOWED_CLOSES:
            reason = closed.rcvd.reason if closed.rcvd else "no close frame"
            fail(what, f"closed with {code}", reason)
    except TimeoutError:
        fail(what, "no answer and no close", f"within {ANSWER_WITHIN} s")


async def _connect(url: str) -> Any:
    return await websockets.connect(
        url.replace("http", "ws") + "/graphql",
        subprotocols=["graphql-transport-ws"],
        max_size=None,
    )


async def _still_serves(url: str, site: Site, http, log, what: str) -> None:
    client = await WsClient.connect(url, site.token)
    await client.subscribe(CARD, {"d": site.depot_id})
    first = await client.data()
    await client.close()
    if first["microgridCard"]["reason"] != "SNAPSHOT":
        fail(what, "no card snapshot afterwards", json.dumps(first)[:300])
    assert_no_traceback(log, what)
    await check_reads(http, site, log)


@hostile
@given(data=st.data())
async def test_hostile_frames_before_the_ack(live, site, http, log, data):
    frame = data.draw(init_frames(site.token), label="frame")
    remember(repr(frame)[:400])
    ws = await _connect(live)
    try:
        await ws.send(_frame(frame))
        await ws.send(json.dumps({"type": "ping"}))
        await _answer(ws, "a hostile frame before the ack")
    except websockets.ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else 1006
        if code not in ALLOWED_CLOSES:
            fail("a hostile frame before the ack", f"closed with {code}", "while sending")
    finally:
        await ws.close()
    await _still_serves(live, site, http, log, "a hostile frame before the ack")


@hostile
@given(data=st.data())
async def test_hostile_frames_after_the_ack(live, site, http, log, data):
    frames = data.draw(st.lists(after_ack_frames(site), min_size=1, max_size=3), label="frames")
    remember(repr(frames)[:400])
    what = "hostile frames after the ack"
    client = await WsClient.connect(live, site.token)
    ws = client.ws
    try:
        for frame in frames:
            await ws.send(_frame(frame))
        await ws.send(json.dumps({"type": "ping"}))
        await _answer(ws, what)
    except websockets.ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else 1006
        if code not in ALLOWED_CLOSES:
            fail(what, f"closed with {code}", "while sending")
    finally:
        await ws.close()
    await _still_serves(live, site, http, log, what)
