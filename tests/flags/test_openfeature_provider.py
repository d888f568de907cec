"""The OpenFeature side: flags are evaluated through an OpenFeature client whose
provider reads the settings (here from the in-memory fakes), with the depot id as
the targeting key; a whole page of depots is one read; a failed read is an error,
never a silent default."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from app.storage_errors import storage_unavailable
from domain.access import EVERYWHERE
from domain.depots import NewCircuit, create_depot
from domain.feature_flags import NEW_MICROGRID_FIELDS_LOAD_CHART, FlagSource
from domain.flag_settings import set_depot_flag, set_global_flag
from flags.evaluator import FlagSettingsUnreadable, OpenFeatureFlags
from graphql import GraphQLError
from schema.errors import describe
from tests.support.fakes import Store, fake_dependencies

KEY = NEW_MICROGRID_FIELDS_LOAD_CHART.key


class CountingUow:
    """The fakes' unit-of-work factory, counting the units of work opened."""

    def __init__(self, inner, fail: Exception | None = None) -> None:
        self.inner, self.fail, self.opened = inner, fail, 0

    def __call__(self, *, write: bool = True):
        self.opened += 1
        if self.fail is not None:
            raise self.fail
        return self.inner(write=write)


@pytest.fixture
async def site() -> AsyncIterator[tuple]:
    store = Store()
    deps = fake_dependencies(store)
    depots = [
        (await create_depot(deps, EVERYWHERE, f"D{i}", [NewCircuit("F")])).depot.id
        for i in range(5)
    ]
    uow = CountingUow(deps.uow)
    flags = OpenFeatureFlags(uow)
    yield deps, depots, uow, flags
    flags.close()


async def test_a_page_of_depots_is_one_read_and_each_gets_its_own_value(site):
    deps, depots, uow, flags = site
    await set_global_flag(deps, EVERYWHERE, KEY, True)
    await set_depot_flag(deps, EVERYWHERE, KEY, False, depots[1])
    uow.opened = 0
    found = await flags.evaluate([*depots, None])
    assert uow.opened == 1
    values = {d: (e.enabled, e.source) for d, (e,) in found.items()}
    assert values == {
        None: (True, FlagSource.GLOBAL),
        depots[0]: (True, FlagSource.GLOBAL),
        depots[1]: (False, FlagSource.DEPOT),
        **{d: (True, FlagSource.GLOBAL) for d in depots[2:]},
    }


async def test_the_client_of_its_domain_answers_with_reason_variant_and_source(site):
    deps, depots, _uow, flags = site
    await set_depot_flag(deps, EVERYWHERE, KEY, True, depots[0])
    client = api.get_client(domain=flags.domain)
    on = await client.get_boolean_details_async(KEY, False, EvaluationContext(str(depots[0])))
    assert (on.value, on.reason, on.variant, on.flag_metadata) == (
        True,
        Reason.TARGETING_MATCH,
        "on",
        {"source": "DEPOT"},
    )
    default = await client.get_boolean_details_async(KEY, True, EvaluationContext())
    assert (default.value, default.reason, default.flag_metadata["source"]) == (
        False,
        Reason.DEFAULT,
        "DEFAULT",
    ), "the built-in default, not the caller's"


async def test_bad_questions_get_openfeature_errors_not_guesses(site):
    _deps, _depots, _uow, flags = site
    client = api.get_client(domain=flags.domain)
    unknown = await client.get_boolean_details_async("no-such-flag", True)
    assert (unknown.value, unknown.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    bad_key = await client.get_boolean_details_async(KEY, True, EvaluationContext("not-a-uuid"))
    assert bad_key.error_code == ErrorCode.INVALID_CONTEXT
    wrong_type = await client.get_string_details_async(KEY, "x")
    assert wrong_type.error_code == ErrorCode.TYPE_MISMATCH
    # The synchronous API would block the loop on the database: it refuses.
    blocking = client.get_boolean_details(KEY, True)
    assert (blocking.value, blocking.error_code) == (True, ErrorCode.GENERAL)


async def test_a_failed_read_raises_from_the_storage_error(site):
    deps, depots, _uow, _flags = site
    lost = ConnectionResetError("database gone")
    broken = OpenFeatureFlags(CountingUow(deps.uow, fail=lost))
    try:
        with pytest.raises(FlagSettingsUnreadable) as raised:
            await broken.evaluate(depots)
        assert raised.value.__cause__ is lost
    finally:
        broken.close()


async def test_a_depot_outside_the_shared_read_reads_on_its_own(site):
    """Evaluations made directly through the client (no shared read) still work."""
    deps, depots, uow, flags = site
    await set_depot_flag(deps, EVERYWHERE, KEY, True, depots[2])
    client = api.get_client(domain=flags.domain)
    uow.opened = 0
    answers = await asyncio.gather(
        *(client.get_boolean_value_async(KEY, False, EvaluationContext(str(d))) for d in depots)
    )
    assert answers == [d == depots[2] for d in depots]
    assert uow.opened == len(depots)


async def test_each_evaluator_has_its_own_domain_and_leaves_it_on_close():
    one, other = (OpenFeatureFlags(CountingUow(fake_dependencies(Store()).uow)) for _ in range(2))
    assert one.domain != other.domain
    for flags in (one, other):
        flags.close()
        assert api.get_provider_metadata(flags.domain).name != "depot-microgrid-database"


async def test_a_lost_database_is_a_retryable_503_not_a_default(site):
    """What the schema's error shaping makes of a read the provider could not do."""
    deps, depots, _uow, _flags = site
    lost = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
    broken = OpenFeatureFlags(CountingUow(deps.uow, fail=lost))
    try:
        with pytest.raises(FlagSettingsUnreadable) as raised:
            await broken.evaluate(depots[:1])
    finally:
        broken.close()
    _message, extensions = describe(
        GraphQLError("failed", original_error=raised.value), storage_unavailable
    )
    assert (extensions["code"], extensions["retryable"]) == ("SERVICE_UNAVAILABLE", True)
