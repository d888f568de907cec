"""Sensor actions are a registry of one module per action type: the enum, the
modules, the keys they read and the packet contract must agree, so forgetting
one side fails here."""

from __future__ import annotations

import pkgutil
from datetime import UTC, datetime
from importlib import import_module
from uuid import UUID, uuid4

import pytest

import domain.sensor_actions
from domain.capability import CapabilityType, StatusEvent
from domain.model import (
    Circuit,
    Device,
    Gateway,
    PowerSource,
    PowerSourceKind,
    SensorAction,
    SensorActionType,
)
from domain.packets import Packet
from domain.plausible.measurands import NUMBER_KEYS, STATUS_VALUES, Value
from domain.sensor_actions.kind import ActionKind, Given
from domain.sensor_actions.registry import ACTIONS, module_name
from domain.sensor_actions.update_microgrid_state import CAPABILITY_KEYS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONTRACT_KEYS = set(NUMBER_KEYS) | set(STATUS_VALUES)


def test_every_action_type_has_its_module_in_the_enums_order():
    assert list(ACTIONS) == list(SensorActionType)
    for action_type, action in ACTIONS.items():
        assert isinstance(action, ActionKind)
        assert action.type is action_type
        assert import_module(module_name(action_type)).ACTION is action


def test_every_module_that_defines_an_action_is_registered_under_its_name():
    package = domain.sensor_actions
    for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        action = getattr(import_module(module.name), "ACTION", None)
        if action is not None:
            assert ACTIONS.get(action.type) is action, module.name
            assert module.name == module_name(action.type)


@pytest.mark.parametrize("action_type", list(SensorActionType))
def test_an_action_reads_only_keys_of_the_packet_contract(action_type):
    keys = ACTIONS[action_type].keys
    assert keys and len(set(keys)) == len(keys)
    assert set(keys) <= CONTRACT_KEYS, sorted(set(keys) - CONTRACT_KEYS)


def test_every_capability_has_its_packet_key_with_a_true_false_contract():
    assert list(CAPABILITY_KEYS) == list(CapabilityType), "one key per capability type"
    assert len(set(CAPABILITY_KEYS.values())) == len(CAPABILITY_KEYS)
    for key in CAPABILITY_KEYS.values():
        assert STATUS_VALUES.get(key) == frozenset({"true", "false"}), key


class _Keys(dict[str, Value]):
    """A packet's measurands that remember which keys an action looked at."""

    def __init__(self, values: dict[str, Value]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)

    def __getitem__(self, key: str) -> Value:
        self.read.add(key)
        return super().__getitem__(key)


class _Facts:
    def __init__(self, depot_id: UUID, circuit_id: UUID) -> None:
        self.battery = PowerSource(uuid4(), depot_id, PowerSourceKind.BATTERY, "BESS", None, NOW)
        self.circuit_record = Circuit(circuit_id, depot_id, "Feeder", None, 0, NOW)

    async def power_sources(self, depot_id: UUID) -> list[PowerSource]:
        return [self.battery]

    async def gateway(self, gateway_id: UUID) -> Gateway | None:
        return None

    async def circuit(self, circuit_id: UUID) -> Circuit | None:
        return self.circuit_record

    async def recorded(self, microgrid_id: UUID, idempotency_key: str) -> StatusEvent | None:
        return None


EVERY_CONTRACT_VALUE: dict[str, Value] = {
    **{key: spec.low for key, spec in NUMBER_KEYS.items()},
    **{key: sorted(values)[0] for key, values in STATUS_VALUES.items()},
    "UNKNOWN_KEY": 1.0,
}


@pytest.mark.parametrize("action_type", list(SensorActionType))
async def test_an_action_reads_from_the_packet_only_the_keys_it_declares(action_type):
    depot_id, circuit_id = uuid4(), uuid4()
    device = Device(uuid4(), depot_id, "MGC", None, circuit_id, NOW)
    action = SensorAction(
        uuid4(),
        device.id,
        action_type,
        True,
        NOW,
        NOW,
        microgrid_id=uuid4(),
        capabilities=list(CapabilityType),
    )
    measurands = _Keys(EVERY_CONTRACT_VALUE)
    packet = Packet(device.id, int(NOW.timestamp() * 1000), NOW, measurands, {})
    decision = await ACTIONS[action_type].decide(
        Given(action, device, packet, NOW), _Facts(depot_id, circuit_id)
    )
    assert decision.outcome.outcome.value == "APPLIED", decision.outcome
    assert measurands.read == set(ACTIONS[action_type].keys)
