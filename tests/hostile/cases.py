"""Every mutation input and query argument of graphql/schema.graphql, as a valid
value and the hostile values of each of its fields.

An example starts from a valid input and replaces one or two fields with
hostile values (sometimes adding an unknown key or dropping a required one),
so most of an example is valid and an accepted one is really applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from tests.hostile.invariants import Site
from tests.hostile.strategies import (
    hostile_datetime_strings,
    hostile_ids,
    hostile_ints,
    hostile_json,
    hostile_numbers,
    hostile_strings,
)
from tests.support.clock import FakeClock

ABSENT = object()
Fields = dict[str, st.SearchStrategy[Any]]

hostile_bools = st.sampled_from([None, 0, 1, "true", "false", "", [], {}, 1.5])
hostile_capabilities = st.one_of(
    st.lists(
        st.one_of(
            st.sampled_from(["DER", "PEAK_SHAVING", "der", "DER ", "", "UNKNOWN", None, 1]),
            hostile_strings,
        ),
        max_size=6,
    ),
    st.sampled_from([[], ["DER"] * 1001, ["DER", "DER"], "DER", None, 7, {"DER": True}]),
)


def enums(*names: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([n.lower() for n in names] + [f"{names[0]} ", "", None, 0, [names[0]]]),
        hostile_strings,
    )


def hostile_list_of(item: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(item, max_size=4),
        st.sampled_from([None, "x", 5, {}]),
        st.integers(1001, 1001).map(lambda n: [{"name": f"c{i}"} for i in range(n)]),
    )


@st.composite
def mutated(draw: st.DrawFn, valid: Fields, hostile: Fields) -> Any:
    """A valid object with one or two fields made hostile, and sometimes an
    unknown key, a dropped key, or no object at all."""
    value = {k: draw(s) for k, s in valid.items()}
    for key in draw(
        st.lists(st.sampled_from(sorted(hostile)), min_size=1, max_size=2, unique=True)
    ):
        value[key] = draw(hostile[key])
    shape = draw(st.sampled_from(["as is"] * 8 + ["unknown key", "drop", "not an object"]))
    if shape == "unknown key":
        value[draw(hostile_strings)] = draw(hostile_json)
    elif shape == "drop" and value:
        value.pop(draw(st.sampled_from(sorted(value))))
    elif shape == "not an object":
        return draw(st.one_of(hostile_json, hostile_strings))
    return {k: v for k, v in value.items() if v is not ABSENT}


@dataclass(frozen=True)
class Case:
    name: str
    document: str
    variables: Callable[[Site, FakeClock], st.SearchStrategy[dict[str, Any]]]
    new_depot: bool = False

    def __str__(self) -> str:
        return self.name


def mutation(field: str, arg_types: dict[str, str], selection: str = "") -> str:
    params = ", ".join(f"${a}: {t}" for a, t in arg_types.items())
    args = ", ".join(f"{a}: ${a}" for a in arg_types)
    return (
        f"mutation ({params}) {{ {field}({args}) {{ __typename "
        f"... on Problem {{ code message }} {selection} }} }}"
    )


def query(field: str, arg_types: dict[str, str], selection: str) -> str:
    params = ", ".join(f"${a}: {t}" for a, t in arg_types.items())
    args = ", ".join(f"{a}: ${a}" for a in arg_types)
    return f"query ({params}) {{ {field}({args}) {{ {selection} }} }}"


def _input(valid: Fields, hostile: Fields) -> st.SearchStrategy[dict[str, Any]]:
    return mutated(valid, hostile).map(lambda v: {"input": v})


def _opt(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


def _now(clock: FakeClock) -> st.SearchStrategy[str]:
    return st.integers(-600, 299).map(lambda s: (clock.current + timedelta(seconds=s)).isoformat())


new_circuit = mutated(
    {"name": st.just("F")}, {"name": hostile_strings, "safeCapacityW": hostile_numbers}
)

CASES = [
    Case(
        "createDepot",
        mutation(
            "createDepot",
            {"input": "CreateDepotInput!"},
            "... on CreateDepotSuccess { depot { id } }",
        ),
        lambda s, c: _input(
            {"name": st.just("D"), "topLevelCircuits": _opt([], [{"name": "F"}])},
            {"name": hostile_strings, "topLevelCircuits": hostile_list_of(new_circuit)},
        ),
        new_depot=True,
    ),
    Case(
        "createCircuit",
        mutation("createCircuit", {"input": "CreateCircuitInput!"}),
        lambda s, c: _input(
            {
                "depotId": st.just(s.depot_id),
                "name": st.just("C"),
                "parentId": _opt(ABSENT, None, s.feeder_id),
                "safeCapacityW": _opt(ABSENT, None, 1000.0),
                "position": _opt(ABSENT, None, 0, 3),
            },
            {
                "depotId": hostile_ids,
                "name": hostile_strings,
                "parentId": hostile_ids,
                "safeCapacityW": hostile_numbers,
                "position": hostile_ints,
            },
        ),
    ),
    Case(
        "updateCircuit",
        mutation("updateCircuit", {"input": "UpdateCircuitInput!"}),
        lambda s, c: _input(
            {"id": st.just(s.child_id), "name": _opt(ABSENT, "Child")},
            {
                "id": hostile_ids,
                "name": hostile_strings,
                "parentId": st.one_of(hostile_ids, _opt(s.child_id, s.feeder_id)),
                "safeCapacityW": hostile_numbers,
                "position": hostile_ints,
            },
        ),
    ),
    Case(
        "deleteCircuit",
        mutation("deleteCircuit", {"id": "ID!"}),
        lambda s, c: mutated({"id": st.just(s.feeder_id)}, {"id": hostile_ids}),
    ),
    Case(
        "resyncMicrogrid",
        mutation("resyncMicrogrid", {"depotId": "ID!", "dryRun": "Boolean!"}),
        lambda s, c: mutated(
            {"depotId": st.just(s.depot_id), "dryRun": st.booleans()},
            {"depotId": hostile_ids, "dryRun": hostile_bools},
        ),
    ),
    Case(
        "backfillMicrogrids",
        mutation("backfillMicrogrids", {"dryRun": "Boolean!"}, "created"),
        lambda s, c: mutated({"dryRun": st.just(True)}, {"dryRun": hostile_bools}),
    ),
    Case(
        "createPowerSource",
        mutation("createPowerSource", {"input": "CreatePowerSourceInput!"}),
        lambda s, c: _input(
            {
                "depotId": st.just(s.depot_id),
                "kind": _opt("SOLAR", "GENERATOR"),
                "name": st.just("P"),
                "circuitId": _opt(ABSENT, None, s.child_id),
            },
            {
                "depotId": hostile_ids,
                "kind": enums("BATTERY", "SOLAR"),
                "name": hostile_strings,
                "circuitId": hostile_ids,
            },
        ),
    ),
    Case(
        "createGateway",
        mutation("createGateway", {"input": "CreateGatewayInput!"}),
        lambda s, c: _input(
            {
                "depotId": st.just(s.depot_id),
                "name": st.just("G"),
                "siteModelName": _opt(ABSENT, None, "BBA"),
                "outputTranslation": _opt(ABSENT, None, {"a": "b"}),
            },
            {
                "depotId": hostile_ids,
                "name": hostile_strings,
                "siteModelName": hostile_strings,
                "outputTranslation": hostile_json,
            },
        ),
    ),
    Case(
        "createDevice",
        mutation("createDevice", {"input": "CreateDeviceInput!"}),
        lambda s, c: _input(
            {
                "depotId": st.just(s.depot_id),
                "name": st.just("Dev"),
                "gatewayId": _opt(ABSENT, None, s.gateway_id),
                "circuitId": _opt(ABSENT, None, s.child_id),
            },
            {
                "depotId": hostile_ids,
                "name": hostile_strings,
                "gatewayId": hostile_ids,
                "circuitId": hostile_ids,
            },
        ),
    ),
    Case(
        "configureSensorAction",
        mutation("configureSensorAction", {"input": "ConfigureSensorActionInput!"}),
        lambda s, c: _input(
            {
                "deviceId": st.just(s.device_id),
                "type": _opt("UPDATE_POWER_SOURCE_LOAD", "UPDATE_CIRCUIT_CAPACITY"),
                "enabled": _opt(ABSENT, True),
            },
            {
                "deviceId": hostile_ids,
                "type": enums("UPDATE_MICROGRID_STATE", "UPDATE_CIRCUIT_CAPACITY"),
                "enabled": hostile_bools,
            },
        ),
    ),
    Case(
        "createControllerBinding",
        mutation("createControllerBinding", {"input": "CreateControllerBindingInput!"}),
        lambda s, c: _input(
            {
                "microgridId": st.just(s.microgrid_id),
                "deviceId": st.just(s.device_id),
                "capabilities": st.just(["DER"]),
                "staleAfterSeconds": _opt(ABSENT, None, 60),
            },
            {
                "microgridId": hostile_ids,
                "deviceId": hostile_ids,
                "capabilities": hostile_capabilities,
                "staleAfterSeconds": hostile_ints,
            },
        ),
    ),
    Case(
        "updateControllerBinding",
        mutation("updateControllerBinding", {"input": "UpdateControllerBindingInput!"}),
        lambda s, c: _input(
            {
                "id": st.just(s.binding_id),
                "capabilities": _opt(ABSENT, ["PEAK_SHAVING", "DER"]),
                "staleAfterSeconds": _opt(ABSENT, None, 60),
            },
            {
                "id": hostile_ids,
                "deviceId": hostile_ids,
                "capabilities": hostile_capabilities,
                "staleAfterSeconds": hostile_ints,
            },
        ),
    ),
    Case(
        "disableControllerBinding",
        mutation("disableControllerBinding", {"id": "ID!"}),
        lambda s, c: mutated({"id": st.just(s.binding_id)}, {"id": hostile_ids}),
    ),
    Case(
        "enableControllerBinding",
        mutation("enableControllerBinding", {"id": "ID!"}),
        lambda s, c: mutated({"id": st.just(s.binding_id)}, {"id": hostile_ids}),
    ),
    Case(
        "recordCapabilityStatus",
        mutation("recordCapabilityStatus", {"input": "RecordCapabilityStatusInput!"}),
        lambda s, c: _input(
            {
                "microgridId": st.just(s.microgrid_id),
                "capability": _opt("DER", "PEAK_SHAVING"),
                "value": st.booleans(),
                "observedAt": _now(c),
                "providerEventRef": st.uuids().map(str),
                "sourceDeviceId": _opt(ABSENT, None, s.device_id),
            },
            {
                "microgridId": hostile_ids,
                "capability": enums("DER", "PEAK_SHAVING"),
                "value": hostile_bools,
                "observedAt": hostile_datetime_strings,
                "providerEventRef": hostile_strings,
                "sourceDeviceId": hostile_ids,
            },
        ),
    ),
    *[
        Case(
            f"query {field}",
            query(field, {arg: "ID!"}, selection),
            lambda s, c, arg=arg, real=real: mutated(
                {arg: st.just(getattr(s, real))}, {arg: hostile_ids}
            ),
        )
        for field, arg, real, selection in [
            ("depot", "id", "depot_id", "id name"),
            ("microgrid", "id", "microgrid_id", "__typename"),
            ("microgridByDepot", "depotId", "depot_id", "__typename"),
            ("microgridCard", "depotId", "depot_id", "__typename"),
            ("controllerBinding", "id", "binding_id", "id"),
            ("device", "id", "device_id", "id"),
        ]
    ],
]
