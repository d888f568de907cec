"""The checked-in SDL is the one the code exports, and it keeps the contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from graphql import build_schema, parse, validate
from graphql_documents.operations import operation, operation_names
from schema.root import export_sdl

ROOT = Path(__file__).resolve().parents[1]
CHECKED_IN = ROOT / "graphql" / "schema.graphql"
CONTRACT_TOOL = ROOT.parent / "shared" / "tools" / "check-contract"


def test_checked_in_sdl_matches_the_code():
    assert CHECKED_IN.read_text() == export_sdl(), (
        "graphql/schema.graphql is stale: regenerate it with `.venv/bin/microgrid export-schema`"
    )


def test_the_exported_sdl_keeps_the_public_contract():
    if not CONTRACT_TOOL.exists():
        pytest.skip(f"{CONTRACT_TOOL} not present beside this checkout")
    result = subprocess.run(
        [sys.executable, str(CONTRACT_TOOL), str(CHECKED_IN)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0 and "contract holds" in result.stdout, result.stdout


@pytest.mark.parametrize("name", operation_names())
def test_every_named_operation_is_valid_against_the_schema(name):
    errors = validate(build_schema(export_sdl()), parse(operation(name)))
    assert errors == []
