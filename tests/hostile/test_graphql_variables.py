"""Every mutation input and query argument, with hostile values in its fields."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile.cases import CASES, Case
from tests.hostile.invariants import accepted, check, check_reads, post
from tests.hostile.profile import hostile


@pytest.mark.parametrize("case", CASES, ids=str)
@hostile
@given(data=st.data())
async def test_hostile_variables_are_client_errors(case: Case, site, http, clock, log, data):
    variables = data.draw(case.variables(site, clock), label="variables")
    response = await post(http, site.token, case.document, variables)
    body = check(response, log, case.name)
    if accepted(body):
        await check_reads(http, site, log)
        created = body["data"]["createDepot"] if case.new_depot else None
        if created:
            await check_reads(http, site, log, depot_id=created["depot"]["id"])
    clock.advance(1)
