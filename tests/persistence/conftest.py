"""The persistence contract runs on three stores: SQLite, PostgreSQL and
"memory", the in-memory fakes the domain tests use (tests/support/fakes.py).
What the fakes answer is therefore what the databases answer.

A test here runs on all three unless it says otherwise:
``@pytest.mark.database_only("why")`` keeps it to the two databases, with the
reason the fakes cannot take it (a trigger, a lock, a migration, a pool);
``@pytest.mark.stores(...)`` names its stores outright."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from domain.changes import Publisher
from domain.ports import Dependencies
from persistence.database import create_engine
from persistence.unit_of_work import SqlUnitOfWorkFactory
from tests.support.clock import FakeClock
from tests.support.fakes import fake_dependencies

MEMORY = "memory"
DATABASES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "database_only(reason): runs on SQLite and PostgreSQL, not on the in-memory fakes, "
        "for the reason given",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Names each test's stores before the root conftest parametrises ``store``."""
    if "store" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    if definition.get_closest_marker("stores") is not None:
        return
    database_only = definition.get_closest_marker("database_only")
    if database_only is not None and not database_only.args:
        raise pytest.UsageError(f"{definition.nodeid}: database_only needs its reason")
    stores = DATABASES if database_only else (*DATABASES, MEMORY)
    definition.add_marker(pytest.mark.stores(*stores))


@pytest.fixture
def store_url(store: str, request: pytest.FixtureRequest) -> str | None:
    """The migrated, empty database of the store; none for the fakes. (Resolved
    outside the event loop: preparing a database runs one of its own.)"""
    return None if store == MEMORY else str(request.getfixturevalue("database_url"))


@pytest.fixture
async def deps(
    store_url: str | None, clock: FakeClock, published: Publisher
) -> AsyncIterator[Dependencies]:
    if store_url is None:
        yield fake_dependencies(clock=clock, publisher=published)
        return
    engine = create_engine(store_url)
    yield Dependencies(
        uow=SqlUnitOfWorkFactory(engine, publisher=published), clock=clock, new_id=uuid4
    )
    await engine.dispose()
