"""Feature flags (DESIGN §7): the evaluation order DEPOT > GLOBAL > DEFAULT, and
admins' settings of them, validated and audited, with the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.access import EVERYWHERE, Scope
from domain.depots import NewCircuit, create_depot
from domain.feature_flags import (
    KNOWN_FLAGS,
    NEW_MICROGRID_FIELDS_LOAD_CHART,
    FeatureFlag,
    FlagEvaluation,
    FlagSetting,
    FlagSource,
    evaluate,
)
from domain.flag_settings import depot_flags, global_flags, set_depot_flag, set_global_flag
from domain.problems import NotFound, ValidationFailed
from tests.support.fakes import Store, fake_dependencies

FLAG = NEW_MICROGRID_FIELDS_LOAD_CHART
KEY = FLAG.key
AT = datetime(2026, 1, 1, tzinfo=UTC)
DEPOTS = [UUID(int=i + 1) for i in range(3)]


def test_the_rollout_flag_is_known_off_by_default_and_says_what_it_gates():
    assert KNOWN_FLAGS[KEY] is FLAG and FLAG.default is False
    assert "capability sections" in FLAG.description and "load chart" in FLAG.description


@pytest.mark.parametrize(
    ("global_value", "depot_value", "expected"),
    [
        (None, None, (False, FlagSource.DEFAULT)),
        (True, None, (True, FlagSource.GLOBAL)),
        (False, None, (False, FlagSource.GLOBAL)),
        (None, True, (True, FlagSource.DEPOT)),
        (True, False, (False, FlagSource.DEPOT)),
        (False, True, (True, FlagSource.DEPOT)),
    ],
)
def test_depot_beats_global_beats_default(global_value, depot_value, expected):
    depot = DEPOTS[0]
    settings = [
        *([FlagSetting(KEY, None, global_value, AT)] if global_value is not None else []),
        *([FlagSetting(KEY, depot, depot_value, AT)] if depot_value is not None else []),
    ]
    found = evaluate(FLAG, depot, settings)
    assert (found.enabled, found.source) == expected
    assert found.depot_id == depot and found.flag is FLAG


settings_lists = st.lists(
    st.builds(
        FlagSetting,
        key=st.sampled_from([KEY, "other-flag", ""]),
        depot_id=st.one_of(st.none(), st.sampled_from(DEPOTS)),
        enabled=st.booleans(),
        updated_at=st.just(AT),
    ),
    max_size=8,
    unique_by=lambda s: (s.key, s.depot_id),
)


@given(
    settings=settings_lists,
    depot=st.one_of(st.none(), st.sampled_from(DEPOTS)),
    default=st.booleans(),
)
def test_evaluation_order_over_random_settings(settings, depot, default):
    """Only this flag's settings count; of them the depot's, then the global one."""
    flag = FeatureFlag(KEY, "d", default)
    found = evaluate(flag, depot, settings)
    mine = {s.depot_id: s.enabled for s in settings if s.key == KEY}
    if depot is not None and depot in mine:
        assert (found.enabled, found.source) == (mine[depot], FlagSource.DEPOT)
    elif None in mine:
        assert (found.enabled, found.source) == (mine[None], FlagSource.GLOBAL)
    else:
        assert (found.enabled, found.source) == (default, FlagSource.DEFAULT)
    # Another depot's setting never decides this depot's value.
    others = [s for s in settings if s.depot_id not in (None, depot)]
    assert evaluate(flag, depot, [s for s in settings if s not in others]) == found


async def _site():
    store = Store()
    deps = fake_dependencies(store)
    made = [await create_depot(deps, EVERYWHERE, f"D{i}", [NewCircuit("F")]) for i in range(2)]
    return store, deps, [m.depot.id for m in made]


def _one(found: list[FlagEvaluation]) -> tuple[bool, FlagSource]:
    (e,) = found
    return e.enabled, e.source


async def test_settings_apply_in_order_and_null_clears_back_down_the_chain():
    store, deps, (a, b) = await _site()
    assert _one(await depot_flags(deps, EVERYWHERE, a)) == (False, FlagSource.DEFAULT)

    assert isinstance(await set_global_flag(deps, EVERYWHERE, KEY, True), FlagEvaluation)
    assert _one(await global_flags(deps)) == (True, FlagSource.GLOBAL)
    assert _one(await depot_flags(deps, EVERYWHERE, a)) == (True, FlagSource.GLOBAL)

    changed = await set_depot_flag(deps, EVERYWHERE, KEY, False, a)
    assert isinstance(changed, FlagEvaluation)
    assert (changed.enabled, changed.source, changed.depot_id) == (False, FlagSource.DEPOT, a)
    assert _one(await depot_flags(deps, EVERYWHERE, b)) == (True, FlagSource.GLOBAL)

    cleared = await set_depot_flag(deps, EVERYWHERE, KEY, None, a)
    assert isinstance(cleared, FlagEvaluation) and cleared.source is FlagSource.GLOBAL
    cleared = await set_global_flag(deps, EVERYWHERE, KEY, None)
    assert isinstance(cleared, FlagEvaluation)
    assert (cleared.enabled, cleared.source, cleared.depot_id) == (False, FlagSource.DEFAULT, None)
    assert store.flag_settings == {}


async def test_every_setting_is_audited_in_its_transaction():
    store, deps, (a, _b) = await _site()
    before = len(store.audit)
    await set_global_flag(deps, EVERYWHERE, KEY, True)
    await set_depot_flag(deps, EVERYWHERE, KEY, False, a)
    await set_depot_flag(deps, EVERYWHERE, KEY, None, a)
    entries = store.audit[before:]
    assert [(e.action, e.depot_id, e.subject_id) for e in entries] == [
        ("setFeatureFlag", None, None),
        ("setFeatureFlag", a, None),
        ("setFeatureFlag", a, None),
    ]
    assert [e.detail for e in entries] == [
        {"key": KEY, "scope": "global", "enabled": True, "previous": None},
        {"key": KEY, "scope": "depot", "enabled": False, "previous": None},
        {"key": KEY, "scope": "depot", "enabled": None, "previous": False},
    ]


@pytest.mark.parametrize(
    "key", ["", "new-microgrid-fields-load-chart ", "NEW-MICROGRID", "x" * 500]
)
async def test_an_unknown_key_is_a_field_error_and_writes_nothing(key):
    store, deps, (a, _b) = await _site()
    commits = store.commits
    for result in (
        await set_global_flag(deps, EVERYWHERE, key, True),
        await set_depot_flag(deps, EVERYWHERE, key, True, a),
    ):
        assert isinstance(result, ValidationFailed)
        assert [(e.field, e.code) for e in result.field_errors] == [
            ("input.key", "UNKNOWN_FEATURE_FLAG")
        ]
        assert key not in result.field_errors[0].message or not key
    assert store.commits == commits and store.flag_settings == {}


async def test_a_depot_outside_scope_answers_like_a_missing_one():
    store, deps, (a, b) = await _site()
    scope = Scope.only(a)
    hidden = await set_depot_flag(deps, scope, KEY, True, b)
    missing = await set_depot_flag(deps, scope, KEY, True, uuid4())
    assert isinstance(hidden, NotFound) and isinstance(missing, NotFound)
    assert hidden.code == missing.code == "DEPOT_NOT_FOUND"
    assert await set_depot_flag(deps, scope, KEY, True, None) == NotFound("Depot", None)
    assert await depot_flags(deps, scope, b) == [] == await depot_flags(deps, scope, uuid4())
    assert _one(await depot_flags(deps, scope, a)) == (False, FlagSource.DEFAULT)
    assert store.flag_settings == {}


async def test_a_scoped_token_cannot_set_the_global_value():
    store, deps, (a, _b) = await _site()
    refused = await set_global_flag(deps, Scope.only(a), KEY, True)
    assert isinstance(refused, ValidationFailed)
    assert [(e.field, e.code) for e in refused.field_errors] == [
        ("input.depotId", "FORBIDDEN_FOR_SCOPED_TOKEN")
    ]
    assert isinstance(await set_depot_flag(deps, Scope.only(a), KEY, True, a), FlagEvaluation)
    assert list(store.flag_settings) == [(KEY, a)]
