"""Hostile and broken input: limits, batching, introspection, masking (DESIGN §5)."""

from __future__ import annotations

import httpx
import pytest

from app.asgi import create_app
from app.container import build_container
from domain import reads
from domain.access import Role
from tests.support.graphql import GraphQLClient

LEAKS = (
    "Traceback",
    'File "',
    "/work/",
    "site-packages",
    "SELECT ",
    "sqlite3.",
    "asyncpg.",
    "sqlalchemy",
    "secret-detail",
)


def assert_nothing_leaks(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked: {text[:300]}"


async def test_an_unexpected_exception_is_masked(admin, monkeypatch):
    async def explode(*_args, **_kwargs):
        raise RuntimeError("secret-detail SELECT * FROM api_tokens at /work/main/x.py")

    monkeypatch.setattr(reads, "depot_page", explode)
    response = await admin.raw("{ depots { edges { cursor } } }")
    assert_nothing_leaks(response.text)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["status"] == 500


@pytest.mark.stores("sqlite")
async def test_an_unreachable_database_is_a_retryable_error_without_details(
    settings, clock, tmp_path, store
):
    container = build_container(
        settings.model_copy(
            update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/db.sqlite"}
        ),
        clock=clock,
    )
    # authentication itself needs the database: exercise the resolver path with a real token
    good = build_container(settings, clock=clock)
    token = (await good.tokens.issue(Role.ADMIN, (), clock.now())).token
    await good.close()
    container.tokens = build_container(settings, clock=clock).tokens
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await GraphQLClient(http, token).raw("{ depots { edges { cursor } } }")
    await container.close()
    assert_nothing_leaks(response.text)
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["retryable"] is True


async def test_batched_requests_are_refused(admin, http):
    response = await http.post(
        "/graphql",
        json=[{"query": "{ viewer { role } }"}] * 3,
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert response.status_code == 400
    assert_nothing_leaks(response.text)


async def test_introspection_is_off_unless_configured(settings, clock, admin):
    query = "{ __schema { types { name } } }"
    assert "data" in (await admin.raw(query)).json()  # the test settings turn it on
    closed = build_container(settings.model_copy(update={"introspection": False}), clock=clock)
    token = (await closed.tokens.issue(Role.ADMIN, (), clock.now())).token
    transport = httpx.ASGITransport(app=create_app(closed))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        body = (await GraphQLClient(http, token).raw(query)).json()
    await closed.close()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in body["errors"][0]["message"].lower()


@pytest.mark.parametrize(
    "query, fragment",
    [
        ("{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(40)) + " }", "aliases"),
        ("{ viewer { " + "role " * 6000 + "} }", "token"),
    ],
)
async def test_alias_and_token_limits(admin, query, fragment):
    errors = (await admin.raw(query)).json()["errors"]
    assert fragment in errors[0]["message"].lower()


async def test_first_is_capped_at_one_hundred(admin):
    from tests.api.helpers import new_depot

    for i in range(3):
        await new_depot(admin, f"d{i}")
    page = (await admin.execute("{ depots(first: 100000) { edges { cursor } } }"))["depots"]
    assert len(page["edges"]) == 3
    negative = (await admin.execute("{ depots(first: -5) { edges { cursor } } }"))["depots"]
    assert len(negative["edges"]) == 1, "first below 1 is raised to 1"


async def test_malformed_json_and_wrong_content_are_client_errors(admin, http):
    headers = {"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"}
    for body in (b"{not json", b'"just a string"', b"{}", b'{"query": 5}'):
        response = await http.post("/graphql", content=body, headers=headers)
        assert 400 <= response.status_code < 500, body
        assert_nothing_leaks(response.text)
