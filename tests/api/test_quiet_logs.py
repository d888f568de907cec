"""Expected denials and client errors are logged as at most one short line,
never with a traceback, and the request text in them is truncated (DESIGN §5);
an unexpected exception is masked in the response but logged with its traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from domain import reads
from domain.access import Role

LOG_BUDGET = 500
CLIENT_SIDE = ("httpx", "httpcore")


def _server_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if not r.name.startswith(CLIENT_SIDE)]


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(caplog.handler.format(r) for r in _server_records(caplog))


async def _forbidden(http: Any, operator: Any, _admin: Any) -> Any:
    body = await operator.raw('mutation { createDepot(input: {name: "x"}) { __typename } }')
    assert body.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    return body


async def _unauthenticated(http: Any, _operator: Any, _admin: Any) -> Any:
    response = await http.post(
        "/graphql", json={"query": "{ viewer { role } }"}, headers={"Authorization": "Bearer x"}
    )
    assert response.status_code == 401
    return response


async def _invalid_variable(http: Any, _operator: Any, admin: Any) -> Any:
    response = await admin.raw(
        "query ($n: Int!) { depots(first: $n) { edges { cursor } } }", {"n": "9" * 200_000}
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    return response


async def _unknown_field(http: Any, _operator: Any, admin: Any) -> Any:
    response = await admin.raw("{ " + "nope " * 2_000 + "}")
    assert response.json()["errors"]
    return response


async def _megabyte_syntax_error(http: Any, _operator: Any, admin: Any) -> Any:
    response = await admin.raw("{ viewer " + "x" * 1_000_000 + " ! }")
    assert response.json()["errors"]
    return response


CLIENT_ERRORS: list[Callable[[Any, Any, Any], Awaitable[Any]]] = [
    _forbidden,
    _unauthenticated,
    _invalid_variable,
    _unknown_field,
    _megabyte_syntax_error,
]


@pytest.mark.stores("sqlite")
@pytest.mark.parametrize("request_of", CLIENT_ERRORS, ids=lambda f: f.__name__.strip("_"))
async def test_a_client_error_logs_one_short_line_without_traceback(
    request_of, http, container, scoped_client, admin, caplog, store
):
    operator = await scoped_client(Role.OPERATOR)
    caplog.set_level(logging.INFO)
    caplog.clear()
    await request_of(http, operator, admin)
    records = _server_records(caplog)
    logged = _logged(caplog)
    assert len(records) <= 1, logged[:2000]
    assert all(r.exc_info is None for r in records), logged[:2000]
    assert "Traceback" not in logged
    assert len(logged.encode()) < LOG_BUDGET, logged[:2000]


@pytest.mark.stores("sqlite")
async def test_an_unexpected_error_is_masked_but_logged_with_its_traceback(
    admin, caplog, monkeypatch, store
):
    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the depot page broke")

    monkeypatch.setattr(reads, "depot_page", broken)
    caplog.set_level(logging.INFO)
    response = await admin.raw("{ depots { edges { cursor } } }")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "broke" not in response.text
    logged = _logged(caplog)
    assert "Traceback" in logged and "the depot page broke" in logged
    with_traceback = [r for r in _server_records(caplog) if r.exc_info]
    assert len(with_traceback) == 1, "logged once, not once per layer"
