"""Shared fixtures: stores (SQLite and PostgreSQL), a movable clock, the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from app.asgi import create_app
from app.container import Container, build_container
from app.settings import Settings
from domain.access import Role
from domain.changes import Change
from domain.ports import Dependencies
from persistence.database import create_engine
from persistence.unit_of_work import SqlUnitOfWorkFactory
from tests.support import services
from tests.support.clock import FakeClock
from tests.support.graphql import GraphQLClient

STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    return services.create_sqlite_database(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[tuple[str, str]]:
    url, name = services.create_postgres_database()
    yield url, name
    services.drop_postgres_database(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that touches a database runs on SQLite and on PostgreSQL."""
    if "store" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("stores")
        metafunc.parametrize("store", marker.args if marker else STORES)


@pytest.fixture
def database_url(store: str, request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of the parametrised store."""
    if store == "postgresql":
        url, name = request.getfixturevalue("postgres_db")
        services.empty_postgres(name)
        return str(url)
    template = str(request.getfixturevalue("sqlite_template"))
    return services.copy_sqlite(template, request.getfixturevalue("tmp_path"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def deps(
    database_url: str, clock: FakeClock, published: RecordingPublisher
) -> AsyncIterator[Dependencies]:
    engine = create_engine(database_url)
    yield Dependencies(
        uow=SqlUnitOfWorkFactory(engine, publisher=published), clock=clock, new_id=uuid4
    )
    await engine.dispose()


class RecordingPublisher:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    async def publish(self, changes: list[Change]) -> None:
        self.changes.extend(changes)


@pytest.fixture
def published() -> RecordingPublisher:
    """What the unit of work published (after commit) in a test."""
    return RecordingPublisher()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, introspection=True)


@pytest.fixture
async def container(settings: Settings, clock: FakeClock) -> AsyncIterator[Container]:
    built = build_container(settings, clock=clock)
    yield built
    await built.close()


@pytest.fixture
async def http(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _token(container: Container, role: Role, *depots: Any) -> str:
    issued = await container.tokens.issue(role, tuple(depots), container.deps.clock.now())
    return issued.token


@pytest.fixture
async def admin(http: httpx.AsyncClient, container: Container) -> GraphQLClient:
    return GraphQLClient(http, await _token(container, Role.ADMIN))


@pytest.fixture
async def operator(http: httpx.AsyncClient, container: Container) -> GraphQLClient:
    return GraphQLClient(http, await _token(container, Role.OPERATOR))


@pytest.fixture
async def integration(http: httpx.AsyncClient, container: Container) -> GraphQLClient:
    return GraphQLClient(http, await _token(container, Role.INTEGRATION))


@pytest.fixture
def scoped_client(http: httpx.AsyncClient, container: Container) -> Any:
    async def make(role: Role, *depot_ids: Any) -> GraphQLClient:
        return GraphQLClient(http, await _token(container, role, *depot_ids))

    return make


FAULT_REPORT = "fault report"


@pytest.fixture
def fault_report(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Puts a fault test's figures (time to converge, what was lost) into the
    run's summary, under pytest-xdist too, where a test's own output is not shown."""

    def report(text: str) -> None:
        record_property(FAULT_REPORT, text)

    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = dict.fromkeys(
        f"{report.nodeid}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", ())
        if name == FAULT_REPORT
    )
    if lines:
        terminalreporter.section("fault reports: time to converge, what was lost")
        for line in lines:
            terminalreporter.write_line(line)
