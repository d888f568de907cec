"""The console's GraphQL documents live in graphql/operations and are served to
it read-only; its capability boxes and choices come from the API, not its files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.console_documents import console_operation_names
from graphql import OperationDefinitionNode, parse
from graphql_documents.sdl import enum_values

STATIC = Path(__file__).resolve().parents[2] / "console" / "static"
SCRIPTS = sorted(STATIC.glob("*.js"))


def _names_the_console_sends() -> set[str]:
    """Operation names written in the scripts (a string "Console…")."""
    return {name for path in SCRIPTS for name in re.findall(r'"(Console\w+)"', path.read_text())}


def test_every_operation_the_console_sends_is_served_and_every_served_one_is_sent():
    sent = _names_the_console_sends()
    assert "ConsoleCardUpdates" in sent and "ConsoleAdmin" in sent
    assert sent == set(console_operation_names())


def test_the_console_scripts_hold_no_graphql_document():
    inline = re.compile(r"\b(query|mutation|subscription)\s*[\w(]*\s*\{|\bfragment\s+\w+\s+on\b")
    offenders = [p.name for p in SCRIPTS if inline.search(p.read_text())]
    assert offenders == []


def test_no_capability_type_is_written_in_the_console_but_as_a_display_name():
    capabilities = enum_values("CapabilityType")
    assert not [c for c in capabilities if c in (STATIC / "index.html").read_text()]
    for path in SCRIPTS:
        for line in path.read_text().splitlines():
            if any(re.search(rf"\b{c}\b", line) for c in capabilities):
                assert line.startswith("const TITLES = "), (path.name, line)


async def test_a_console_operation_is_served_with_the_fragments_it_uses(http):
    response = await http.get("/console/operations/ConsoleCardUpdates.graphql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/graphql")
    document = parse(response.text)
    kinds = [type(d).__name__ for d in document.definitions]
    assert kinds == ["OperationDefinitionNode", "FragmentDefinitionNode"]
    assert isinstance(document.definitions[0], OperationDefinitionNode)
    assert document.definitions[0].name and document.definitions[0].name.value == (
        "ConsoleCardUpdates"
    )


@pytest.mark.parametrize("name", ["SimIngest", "NoSuchOperation", "..%2Fschema"])
async def test_only_the_consoles_own_operations_are_served(http, name):
    response = await http.get(f"/console/operations/{name}.graphql")
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
