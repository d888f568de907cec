"""loadChart through the schema over the in-memory fakes: the one-pass completion
of the chart's points answers exactly like graphql-core's own, the points stay
plain records, and the limits let a full chart through while stopping abuse."""

from __future__ import annotations

import dataclasses
import functools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import load_chart as domain
from domain.access import EVERYWHERE, Principal, Role
from domain.depots import NewCircuit, create_depot
from domain.equipment import NewPowerSource, create_power_source
from domain.model import PowerSourceKind
from domain.readings import CIRCUIT_KINDS, POWER_SOURCE_KINDS, Bucket
from graphql import parse
from resolvers.context import RequestContext
from schema.executor import SchemaExecutor
from schema.load_chart import PLAIN_RECORDS, LoadPoint
from schema.query_limits import document_errors, measure
from schema.root import build_schema
from schema.strawberry_internals import graphql_schema
from tests.support.clock import FakeClock
from tests.support.fakes import FakeReadings, Store, fake_dependencies

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FULL = """query ($d: ID!, $f: DateTime!, $t: DateTime!, $n: Int!) {
  loadChart(depotId: $d, from: $f, to: $t, maxPoints: $n) {
    __typename
    ... on LoadChart { depotId from to bucketSeconds
      series { kind subjectId name unit points { at min avg max last } }
      capabilityIntervals { capability status freshness from to }
      capacitySourceIntervals { circuitId source from to } }
    ... on ValidationFailed { code fieldErrors { field code } }
    ... on NotFound { code }
  }
}"""


class Chart:
    """A depot with ``sources`` power sources and ``circuits`` feeders whose
    readings fill every other bucket (the store's answer is given, not computed)."""

    async def build(self, sources: int = 4, circuits: int = 4) -> Chart:
        self.store = Store()
        self.deps = fake_dependencies(
            self.store, FakeClock(T0 + timedelta(days=40), tick=timedelta(0))
        )
        feeders = [NewCircuit(f"Feeder {i}") for i in range(circuits)]
        created = await create_depot(self.deps, EVERYWHERE, "Depot", feeders)
        self.depot_id: UUID = created.depot.id  # type: ignore[union-attr]
        for i in range(sources):
            await create_power_source(
                self.deps,
                EVERYWHERE,
                NewPowerSource(self.depot_id, PowerSourceKind.BATTERY, f"Battery {i}"),
            )
        return self

    def buckets(self, count: int) -> list[Bucket]:
        subjects = [
            *((p.id, POWER_SOURCE_KINDS) for p in self.store.power_sources.values()),
            *((c.id, CIRCUIT_KINDS) for c in self.store.circuits.values()),
        ]
        return [
            Bucket(subject, kind, i, -1.5 * i, 0.25, 1e9, float(i))
            for subject, kinds in subjects
            for kind in kinds
            for i in range(0, count, 2)
        ]

    async def run(
        self,
        query: str = FULL,
        points: int = 1000,
        span: timedelta = timedelta(days=7),
        schema: Any = None,
        **extra: Any,
    ) -> Any:
        principal = Principal(uuid4(), Role.OPERATOR, EVERYWHERE)
        context = RequestContext(self.deps, None, None, principal)  # type: ignore[arg-type]
        variables = {
            "d": str(self.depot_id),
            "f": T0.isoformat(),
            "t": (T0 + span).isoformat(),
            "n": points,
            **extra,
        }
        schema = schema or one_pass()
        return await schema.execute(query, variable_values=variables, context_value=context)


@pytest.fixture
def stored_buckets(monkeypatch: pytest.MonkeyPatch) -> list[Bucket]:
    """What the fake readings store answers, whatever it is asked."""
    found: list[Bucket] = []

    async def buckets(self: object, *_args: object) -> list[Bucket]:
        return found

    monkeypatch.setattr(FakeReadings, "buckets", buckets)
    return found


@functools.cache
def one_pass() -> Any:
    return build_schema()


class FieldByField(SchemaExecutor):
    plain_records = {}


@functools.cache
def field_by_field() -> Any:
    return build_schema(executor=FieldByField)


async def test_a_chart_has_every_bucket_and_null_gaps(stored_buckets):
    chart = await Chart().build()
    stored_buckets.extend(chart.buckets(10))
    result = await chart.run(points=10, span=timedelta(seconds=100))
    assert result.errors is None
    data = result.data["loadChart"]
    assert (data["__typename"], data["bucketSeconds"], len(data["series"])) == ("LoadChart", 10, 20)
    points = data["series"][0]["points"]
    assert points[0] == {"at": T0.isoformat(), "min": -0.0, "avg": 0.25, "max": 1e9, "last": 0.0}
    assert points[1] == {
        "at": (T0 + timedelta(seconds=10)).isoformat(),
        "min": None,
        "avg": None,
        "max": None,
        "last": None,
    }
    assert data["series"][0]["unit"] == "W" and data["series"][1]["unit"] == "%"


SELECTIONS = [
    "points { at min avg max last }",
    "points { __typename last at }",
    "points { a: at b: at last ...P } ",
    "points { at @skip(if: true) min @include(if: false) last ... on LoadPoint { max } }",
    "points { max } p2: points { at }",
    "points { ...P avg @include(if: true) }",
]


@pytest.mark.parametrize("selection", SELECTIONS)
async def test_one_pass_completion_answers_like_field_by_field(stored_buckets, selection):
    chart = await Chart().build(sources=1, circuits=1)
    stored_buckets.extend(chart.buckets(40))
    query = (
        "query ($d: ID!, $f: DateTime!, $t: DateTime!, $n: Int!) { loadChart(depotId: $d, "
        f"from: $f, to: $t, maxPoints: $n) {{ ... on LoadChart {{ series {{ {selection} }} }} }} }}"
    )
    if "...P" in selection:
        query += " fragment P on LoadPoint { min at }"
    fast = await chart.run(query, points=40, span=timedelta(seconds=400))
    slow = await chart.run(query, points=40, span=timedelta(seconds=400), schema=field_by_field())
    assert fast.errors is None and slow.errors is None
    assert fast.data == slow.data
    assert list(fast.data["loadChart"]["series"][0]) == list(slow.data["loadChart"]["series"][0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers()),
        min_size=4,
        max_size=4,
    )
)
async def test_values_the_one_pass_would_not_take_are_completed_field_by_field(values):
    """An int, a None or an odd float from a store answers as graphql-core would."""
    chart = await Chart().build(sources=0, circuits=0)
    point = domain.Point(T0, *values)
    series = domain.Series(POWER_SOURCE_KINDS[0], uuid4(), "x", "W", [point])
    loaded = domain.LoadChart(chart.depot_id, T0, T0, 10, [series], [], [])

    async def answer(*_args: object) -> domain.LoadChart:
        return loaded

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(domain, "load_chart", answer)
        query = FULL
        fast = await chart.run(query, points=10)
        slow = await chart.run(query, points=10, schema=field_by_field())
    assert fast.data == slow.data
    assert [e.message for e in fast.errors or ()] == [e.message for e in slow.errors or ()]


def test_load_points_stay_plain_records_of_the_domain_points_attributes():
    definition = strawberry.types.get_object_definition(LoadPoint, strict=True)
    assert {f.python_name for f in definition.fields} == set(PLAIN_RECORDS["LoadPoint"])
    for field in definition.fields:
        assert field.base_resolver is None and not field.permission_classes, field.python_name
        assert not field.extensions and not field.arguments, field.python_name
    assert set(PLAIN_RECORDS["LoadPoint"].values()) == set(domain.Point._fields)
    assert not dataclasses.is_dataclass(domain.Point), "a NamedTuple: the cheapest record"


# --- limits -----------------------------------------------------------------------------


def _cost(query: str, variables: dict[str, Any] | None = None) -> int:
    schema = graphql_schema(one_pass())
    document = parse(query)
    operation = document.definitions[0]
    return measure(schema, document, operation, variables).cost  # type: ignore[arg-type]


def test_a_chart_costs_its_fields_times_max_points_over_100():
    assert _cost(FULL, {"n": 1000}) == 1 + 10 * 32
    assert _cost(FULL, {"n": 5000}) == 1 + 50 * 32
    assert _cost(FULL, {"n": 10}) == 1 + 32
    for refused in (-(2**31), -1, 0, 9):  # refused before any read: a page of 1
        assert _cost(FULL, {"n": refused}) == 1 + 32, refused
    for hostile in (5001, 2**31 - 1, 10**100, "5000", None, 1.5):  # counted as the most
        assert _cost(FULL, {"n": hostile}) == 1 + 50 * 32, hostile
    literal = FULL.replace("$n: Int!", "$n: Int! = 300").replace("maxPoints: $n", "maxPoints: 300")
    assert _cost(literal) == 1 + 3 * 32
    default = FULL.replace(", maxPoints: $n", "")
    assert _cost(default) == 1 + 10 * 32


def test_one_full_chart_at_5000_points_fits_the_cost_limit_and_two_do_not():
    schema = graphql_schema(one_pass())
    one = FULL.replace("maxPoints: $n", "maxPoints: 5000")
    assert document_errors(schema, parse(one), 15, 30, 2000) == []
    two = one.replace("loadChart(", "a: loadChart(", 1).replace(
        "\n}",
        "\n b: loadChart(depotId: $d, from: $f, to: $t, maxPoints: 5000) { __typename"
        " ... on LoadChart { series { points { at min avg max last } } } } }",
    )
    (error,) = document_errors(schema, parse(two), 15, 30, 2000)
    assert error.extensions["code"] == "QUERY_TOO_COSTLY"  # type: ignore[index]


async def test_a_20_series_chart_at_5000_points_is_answered_whole(stored_buckets):
    chart = await Chart().build()
    stored_buckets.extend(chart.buckets(5000))
    result = await chart.run(points=5000, span=timedelta(minutes=5) * 5000)
    assert result.errors is None
    series = result.data["loadChart"]["series"]
    assert len(series) == 20 and {len(s["points"]) for s in series} == {5000}


async def test_more_chart_points_than_the_budget_are_refused_before_completing_them(
    stored_buckets,
):
    chart = await Chart().build(sources=10, circuits=10)  # 50 series
    result = await chart.run(points=5000, span=timedelta(days=31))
    assert result.data is None
    (error,) = result.errors
    assert error.extensions["code"] == "RESPONSE_TOO_LARGE"
    assert "120,000 points" in error.message
