"""The schema's lists the simulator works with (capability types, sensor
actions, status values), read from the exported SDL rather than repeated here,
so a new enum member in the service needs no change in the simulator."""

from __future__ import annotations

from functools import cache

from graphql_documents.sdl import enum_values

BINDING_ACTION = "UPDATE_MICROGRID_STATE"
"""A controller binding *is* the device's action of this type (DESIGN §2):
creating the binding configures it."""


def capabilities() -> tuple[str, ...]:
    return enum_values("CapabilityType")


def actions() -> tuple[str, ...]:
    return enum_values("SensorActionType")


def status_key(capability: str) -> str:
    """The scenario's expectation key for a capability's status: DER -> der."""
    return capability.lower()


def freshness_key(capability: str) -> str:
    return f"{status_key(capability)}_freshness"


@cache
def expect_enums() -> dict[str, tuple[str, ...]]:
    """Expectation keys whose value is one of a fixed set, and that set."""
    statuses, freshness = enum_values("OperationalStatus"), enum_values("Freshness")
    enums: dict[str, tuple[str, ...]] = {}
    for capability in capabilities():
        enums[status_key(capability)] = statuses
        enums[freshness_key(capability)] = freshness
    enums["capacity_source"] = enum_values("CapacitySource")
    enums["bess_mode"] = enum_values("BessOperationalMode")
    enums["power_state"] = ("on", "off")
    return enums
