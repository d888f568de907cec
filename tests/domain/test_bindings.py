"""Controller binding rules (DESIGN §2 "Controller bindings"), with fakes."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.access import EVERYWHERE, Scope
from domain.bindings import BindingPatch, set_binding_enabled, update_binding
from domain.capability import CapabilityType
from domain.changes import ChangeReason
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewDevice, create_device
from domain.model import SensorAction, SensorActionType
from domain.problems import Conflict, NotFound, ValidationFailed
from tests.domain.test_sensor_actions import Site

DER, PS = CapabilityType.DER, CapabilityType.PEAK_SHAVING


@pytest.fixture
async def site():
    return await Site().build()


def _fields(result):
    assert isinstance(result, ValidationFailed), result
    return [(e.field, e.code) for e in result.field_errors]


async def test_a_binding_is_the_device_microgrid_state_action(site):
    binding = await site.bind(DER, PS, stale_after=45)
    assert isinstance(binding, SensorAction)
    (stored,) = site.store.sensor_actions.values()
    assert stored.id == binding.id and stored.type is SensorActionType.UPDATE_MICROGRID_STATE
    assert (stored.microgrid_id, stored.capabilities, stored.stale_after_seconds) == (
        site.microgrid.id,
        [DER, PS],
        45,
    )
    assert site.store.published[-1].reason is ChangeReason.BINDING


async def test_the_default_threshold_is_the_service_default(site):
    binding = await site.bind(DER)
    assert binding.stale_after_seconds == 300


@pytest.mark.parametrize(
    ("capabilities", "stale", "expected"),
    [
        ([], None, [("input.capabilities", "REQUIRED")]),
        ([DER, DER], None, [("input.capabilities", "DUPLICATE")]),
        ([DER], 0, [("input.staleAfterSeconds", "OUT_OF_RANGE")]),
        ([DER], -5, [("input.staleAfterSeconds", "OUT_OF_RANGE")]),
        ([], 0, [("input.capabilities", "REQUIRED"), ("input.staleAfterSeconds", "OUT_OF_RANGE")]),
    ],
)
async def test_invalid_bindings_get_field_errors_and_change_nothing(
    site, capabilities, stale, expected
):
    result = await site.bind(*capabilities, stale_after=stale)
    assert _fields(result) == expected
    assert site.store.sensor_actions == {}


async def test_the_device_must_be_in_the_microgrid_depot(site):
    other = await create_depot(site.deps, EVERYWHERE, "Other", [NewCircuit("F")])
    stranger = await create_device(site.deps, EVERYWHERE, NewDevice(other.depot.id, "x"))
    result = await site.bind(DER, device=stranger)
    assert _fields(result) == [("input.deviceId", "DEVICE_NOT_IN_DEPOT")]
    unknown = await site.bind(DER, device=type(stranger)(**{**stranger.__dict__, "id": uuid4()}))
    assert _fields(unknown) == [("input.deviceId", "DEVICE_NOT_FOUND")]


async def test_unknown_or_hidden_microgrids_are_not_found(site):
    from domain.bindings import create_binding

    for scope, microgrid_id in ((EVERYWHERE, uuid4()), (Scope(frozenset()), site.microgrid.id)):
        result = await create_binding(site.deps, scope, microgrid_id, site.device.id, [DER], None)
        assert isinstance(result, NotFound) and result.code == "MICROGRID_NOT_FOUND"


async def test_one_enabled_binding_per_capability(site):
    await site.bind(DER)
    second_device = await create_device(site.deps, EVERYWHERE, NewDevice(site.depot_id, "meter"))
    taken = await site.bind(DER, PS, device=second_device)
    assert isinstance(taken, Conflict) and taken.code == "CAPABILITY_ALREADY_BOUND"
    assert "DER" in taken.message
    fine = await site.bind(PS, device=second_device)
    assert isinstance(fine, SensorAction)


async def test_a_device_has_at_most_one_binding(site):
    await site.bind(DER)
    again = await site.bind(PS)
    assert isinstance(again, Conflict) and again.code == "DEVICE_ALREADY_BOUND"


async def test_disable_keeps_the_record_and_enable_rechecks_conflicts(site):
    first = await site.bind(DER)
    await set_binding_enabled(site.deps, EVERYWHERE, first.id, False)
    assert site.store.sensor_actions[first.id].enabled is False
    meter = await create_device(site.deps, EVERYWHERE, NewDevice(site.depot_id, "meter"))
    replacement = await site.bind(DER, device=meter)
    assert isinstance(replacement, SensorAction), "a disabled binding owns nothing"

    refused = await set_binding_enabled(site.deps, EVERYWHERE, first.id, True)
    assert isinstance(refused, Conflict) and refused.code == "CAPABILITY_ALREADY_BOUND"
    assert site.store.sensor_actions[first.id].enabled is False

    await set_binding_enabled(site.deps, EVERYWHERE, replacement.id, False)
    restored = await set_binding_enabled(site.deps, EVERYWHERE, first.id, True)
    assert isinstance(restored, SensorAction) and restored.enabled


async def test_updates_are_checked_like_creations(site):
    binding = await site.bind(DER)
    changed = await update_binding(
        site.deps,
        EVERYWHERE,
        BindingPatch(binding.id, capabilities=[DER, PS], stale_after_seconds=60),
    )
    assert (changed.capabilities, changed.stale_after_seconds) == ([DER, PS], 60)
    bad = await update_binding(
        site.deps, EVERYWHERE, BindingPatch(binding.id, capabilities=[], stale_after_seconds=None)
    )
    assert _fields(bad) == [
        ("input.capabilities", "REQUIRED"),
        ("input.staleAfterSeconds", "REQUIRED"),
    ]
    missing = await update_binding(site.deps, EVERYWHERE, BindingPatch(uuid4()))
    assert isinstance(missing, NotFound) and missing.code == "CONTROLLER_BINDING_NOT_FOUND"
    assert site.store.sensor_actions[binding.id].capabilities == [DER, PS]
