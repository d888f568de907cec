"""The simulator reaches the service only over HTTP and takes the schema's lists
(capability types, sensor actions, status values) from the exported SDL."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphql_documents import sdl
from simulator import vocabulary
from simulator.scenario import Provision, ScenarioError, parse

ROOT = Path(__file__).resolve().parents[2]
SHARED_READER = "graphql_documents"


def _our_packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")}


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_simulator_imports_none_of_the_services_packages():
    forbidden = _our_packages() - {"simulator", SHARED_READER}
    assert {"app", "domain", "schema", "resolvers", "persistence", "console"} <= forbidden
    offenders = {
        module: sorted(names & forbidden)
        for module, names in _imports("simulator").items()
        if names & forbidden
    }
    assert offenders == {}, "the simulator talks to the service over HTTP only (DESIGN §1)"


def test_the_shared_reader_imports_nothing_of_ours():
    forbidden = _our_packages() - {SHARED_READER}
    offenders = {
        module: sorted(names & forbidden)
        for module, names in _imports(SHARED_READER).items()
        if names & forbidden
    }
    assert offenders == {}


def test_scenario_keys_and_actions_come_from_the_sdl():
    capabilities = sdl.enum_values("CapabilityType")
    assert {"PEAK_SHAVING", "DER"} <= set(capabilities)
    enums = vocabulary.expect_enums()
    assert {"peak_shaving", "peak_shaving_freshness", "der", "der_freshness"} <= set(enums)
    assert enums["der"] == sdl.enum_values("OperationalStatus")
    assert vocabulary.BINDING_ACTION in vocabulary.actions()
    assert Provision().capabilities == capabilities


@pytest.fixture
def third_capability(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The exported SDL with one more CapabilityType member, as after a domain change."""
    enum = "enum CapabilityType {\n"
    text = sdl.SDL_PATH.read_text().replace(enum, enum + "  FREQUENCY_RESPONSE\n", 1)
    assert "FREQUENCY_RESPONSE" in text
    (tmp_path / "schema.graphql").write_text(text)
    monkeypatch.setattr(sdl, "SDL_PATH", tmp_path / "schema.graphql")
    sdl._enums.cache_clear()
    vocabulary.expect_enums.cache_clear()
    yield "FREQUENCY_RESPONSE"
    sdl._enums.cache_clear()
    vocabulary.expect_enums.cache_clear()


def test_a_new_capability_type_needs_no_change_in_the_simulator(third_capability):
    scenario = parse(
        'name = "new"\n[provision]\ncapabilities = ["FREQUENCY_RESPONSE"]\n'
        '[[steps]]\nat = 0\n[steps.expect]\nfrequency_response = "ON"\n'
        'frequency_response_freshness = "FRESH"\n'
    )
    assert scenario.provision.capabilities == ("FREQUENCY_RESPONSE",)
    assert third_capability in Provision().capabilities
    with pytest.raises(ScenarioError, match="frequency_response: must be one of ON, OFF"):
        parse('name = "bad"\n[[steps]]\nat = 0\n[steps.expect]\nfrequency_response = "YES"\n')
