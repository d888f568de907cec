"""DESIGN §2 "Capability status" and "Freshness", through the use case with fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest

from domain.access import EVERYWHERE, Scope
from domain.capability import CapabilityType, Freshness, Observation, OperationalStatus, view
from domain.card import card_for_depot
from domain.changes import ChangeReason
from domain.depots import DepotCreated, NewCircuit, create_depot
from domain.problems import Conflict, NotFound, ValidationFailed
from domain.projections import rebuild_latest_statuses
from domain.status_ingest import StatusRecorded, record_capability_status
from tests.support.clock import FakeClock
from tests.support.fakes import Store, fake_dependencies

PS, DER = CapabilityType.PEAK_SHAVING, CapabilityType.DER


@pytest.fixture
def world():
    store, clock = Store(), FakeClock()
    return store, clock, fake_dependencies(store, clock, stale_after_seconds=300)


async def _microgrid(deps):
    created = await create_depot(deps, EVERYWHERE, "D", [NewCircuit("Top")])
    assert isinstance(created, DepotCreated)
    return created.sync.microgrid


def _obs(microgrid, capability=DER, value=True, at=None, ref=None, clock=None):
    return Observation(
        microgrid.id, capability, value, at or clock.current, ref or f"ref-{uuid4()}"
    )


async def test_booleans_map_to_on_and_off_and_unreported_is_unknown(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)

    card = await card_for_depot(deps, EVERYWHERE, microgrid.depot_id)
    assert (card.der.status, card.der.freshness) == (
        OperationalStatus.UNKNOWN,
        Freshness.NEVER_REPORTED,
    )
    assert card.der.observed_at is None and card.der.stale_after_seconds == 300

    on = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, DER, True, clock=clock))
    off = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, PS, False, clock=clock))
    assert on.latest.status is OperationalStatus.ON and off.latest.status is OperationalStatus.OFF
    card = await card_for_depot(deps, EVERYWHERE, microgrid.depot_id)
    assert (card.der.status, card.peak_shaving.status) == (
        OperationalStatus.ON,
        OperationalStatus.OFF,
    )


async def test_the_newest_observation_wins_and_a_late_older_one_only_enters_history(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    t0 = clock.current
    newer = await record_capability_status(
        deps, EVERYWHERE, _obs(microgrid, DER, True, at=t0 + timedelta(seconds=10))
    )
    late = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, DER, False, at=t0))

    assert newer.event.applied_to_latest and not late.event.applied_to_latest
    assert late.latest.event_id == newer.event.id and late.latest.status is OperationalStatus.ON
    assert [e.sequence for e in store.events[microgrid.id]] == [1, 2]
    card = await card_for_depot(deps, EVERYWHERE, microgrid.depot_id)
    assert card.der.event_id == newer.event.id


async def test_equal_observed_at_goes_to_the_higher_sequence(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    at = clock.current
    await record_capability_status(deps, EVERYWHERE, _obs(microgrid, DER, True, at=at))
    second = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, DER, False, at=at))
    assert second.event.applied_to_latest and second.latest.status is OperationalStatus.OFF


async def test_a_retry_is_a_duplicate_and_a_reused_ref_is_a_conflict(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    observation = _obs(microgrid, DER, True, ref="monitor-42", clock=clock)
    first = await record_capability_status(deps, EVERYWHERE, observation)
    published = len(store.published)

    retry = await record_capability_status(deps, EVERYWHERE, observation)
    reused = await record_capability_status(deps, EVERYWHERE, replace(observation, value=False))
    other_capability = await record_capability_status(
        deps, EVERYWHERE, replace(observation, capability=PS)
    )

    assert isinstance(retry, StatusRecorded) and retry.duplicate
    assert retry.event == first.event
    assert isinstance(reused, Conflict) and reused.code == "PROVIDER_EVENT_REF_REUSED"
    assert isinstance(other_capability, StatusRecorded) and not other_capability.duplicate
    assert len(store.events[microgrid.id]) == 2
    assert len(store.published) == published + 1, "only the new capability was announced"


async def test_observed_at_more_than_five_minutes_ahead_is_refused(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    ahead = clock.current + timedelta(minutes=5, seconds=1)
    refused = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, at=ahead))
    just_ok = await record_capability_status(
        deps, EVERYWHERE, _obs(microgrid, at=clock.current + timedelta(minutes=4, seconds=59))
    )
    assert isinstance(refused, ValidationFailed)
    assert [(e.field, e.code) for e in refused.field_errors] == [
        ("input.observedAt", "IN_THE_FUTURE")
    ]
    assert isinstance(just_ok, StatusRecorded)
    assert len(store.events[microgrid.id]) == 1


async def test_empty_refs_unknown_microgrids_and_foreign_devices_write_nothing(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    empty = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, ref=" ", clock=clock))
    unknown = await record_capability_status(
        deps, EVERYWHERE, replace(_obs(microgrid, clock=clock), microgrid_id=uuid4())
    )
    hidden = await record_capability_status(deps, Scope(frozenset()), _obs(microgrid, clock=clock))
    foreign = await record_capability_status(
        deps, EVERYWHERE, replace(_obs(microgrid, clock=clock), source_device_id=uuid4())
    )
    assert isinstance(empty, ValidationFailed)
    assert isinstance(unknown, NotFound) and isinstance(hidden, NotFound)
    assert unknown.code == hidden.code == "MICROGRID_NOT_FOUND"
    assert foreign.field_errors[0].code == "DEVICE_NOT_IN_DEPOT"
    assert store.events == {} and store.latest == {}


async def test_freshness_comes_from_the_record_that_drives_status(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    observed = clock.current - timedelta(seconds=100)
    recorded = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, at=observed))
    latest = store.latest[microgrid.id][DER]

    fresh = view(DER, latest, observed + timedelta(seconds=299), 300)
    stale = view(DER, latest, observed + timedelta(seconds=300), 300)

    assert fresh.freshness is Freshness.FRESH and stale.freshness is Freshness.STALE
    assert fresh.stale_at == stale.stale_at == observed + timedelta(seconds=300)
    assert fresh.age_seconds == 299 and stale.age_seconds == 300
    assert (fresh.observed_at, fresh.received_at, fresh.event_id) == (
        observed,
        recorded.event.received_at,
        recorded.event.id,
    )


async def test_every_accepted_status_is_announced_after_commit(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    before = microgrid.revision
    recorded = await record_capability_status(deps, EVERYWHERE, _obs(microgrid, clock=clock))
    change = store.published[-1]
    assert (change.reason, change.event_id) == (ChangeReason.CAPABILITY_STATUS, recorded.event.id)
    assert change.revision == before + 1


async def test_the_projection_rebuilds_from_events_alone(world):
    store, clock, deps = world
    microgrid = await _microgrid(deps)
    t0 = clock.current
    for offset, value, capability in (
        (5, True, DER),
        (1, False, DER),
        (3, True, PS),
        (3, False, PS),
    ):
        await record_capability_status(
            deps, EVERYWHERE, _obs(microgrid, capability, value, at=t0 + timedelta(seconds=offset))
        )
    live = store.latest
    store.latest = {}
    report = await rebuild_latest_statuses(deps)
    assert report.rows == 2 and report.skipped == ()
    assert store.latest == live
