"""Hostile feature-flag inputs (hypothesis): the worst keys, depot ids and values
for ``setFeatureFlag`` and ``featureFlags`` are client errors, never faults; a
refused one writes nothing, and the flags still read afterwards."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.cases import ABSENT, hostile_bools, mutated
from tests.hostile.invariants import accepted, check, fail, post
from tests.hostile.profile import hostile
from tests.hostile.strategies import hostile_ids, hostile_strings

KEY = "new-microgrid-fields-load-chart"
SET = """mutation ($input: SetFeatureFlagInput!) { setFeatureFlag(input: $input) {
  __typename ... on Problem { code message } ... on FeatureFlag { key enabled source depotId }
  ... on ValidationFailed { fieldErrors { field code message } } } }"""
READ = """query ($depotId: ID) { featureFlags(depotId: $depotId) { key description enabled
  source depotId } }"""
hostile_keys = st.one_of(
    hostile_strings,
    st.sampled_from([KEY.upper(), f" {KEY}", f"{KEY}\x00", KEY * 200, "", None, 1, [KEY]]),
)


async def _reads(http, site, log) -> list[Any]:
    flags = []
    for depot in (None, site.depot_id):
        body = check(
            await post(http, site.token, READ, {"depotId": depot}, hostile=False), log, "read"
        )
        if not body or body.get("errors"):
            fail("featureFlags after a hostile input", "read failed", str(body)[:300])
            return []
        flags.append(body["data"]["featureFlags"])
    return flags


@hostile
@given(data=st.data())
async def test_hostile_settings_are_client_errors(site, http, log, data):
    before = await _reads(http, site, log)
    variables = data.draw(
        mutated(
            {
                "key": st.just(KEY),
                "enabled": st.sampled_from([ABSENT, None, True, False]),
                "depotId": st.sampled_from([ABSENT, None, site.depot_id]),
            },
            {"key": hostile_keys, "enabled": hostile_bools, "depotId": hostile_ids},
        ).map(lambda v: {"input": v}),
        label="variables",
    )
    body = check(await post(http, site.token, SET, variables), log, "setFeatureFlag")
    after = await _reads(http, site, log)
    if not accepted(body) and after != before:
        fail("setFeatureFlag", "a refused setting changed a flag", str(variables)[:300])
    if accepted(body):
        flag = body["data"]["setFeatureFlag"]
        if flag["key"] != KEY:
            fail("setFeatureFlag", "accepted another key", str(variables)[:300])


@hostile
@given(depot_id=st.one_of(hostile_ids, st.sampled_from([None, 0, [], {}])))
async def test_hostile_depot_ids_read_as_missing_or_are_refused(site, http, log, depot_id):
    body = check(await post(http, site.token, READ, {"depotId": depot_id}), log, "featureFlags")
    known = depot_id in (None, site.depot_id)
    if body and not body.get("errors") and not known and body["data"]["featureFlags"] != []:
        fail("featureFlags", "an unknown depot has flags", repr(depot_id)[:200])
