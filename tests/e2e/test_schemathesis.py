"""Schemathesis (GraphQL) against a live `microgrid serve` with an admin token:
a fixed seed, a bounded number of examples, no 5xx and no unmasked error.

Schemathesis keeps its state (crash cache, found examples) in `.schemathesis/`
under its working directory; it runs in the test's temporary directory, so a
run leaves nothing in the checkout and never replays what an earlier run
cached: the seeded run is the same run every time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent / "schemathesis"


def test_fuzzing_finds_no_server_error_and_no_unmasked_error(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    cli(url, "demo")
    token = cli(url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    with serve(url, INTROSPECTION="true") as server:
        result = subprocess.run(
            [
                str(BIN),
                "run",
                server.url,
                "-H",
                f"Authorization: Bearer {token}",
                "--seed",
                "7",
                "--max-examples",
                "15",
                "--checks",
                "not_a_server_error,errors_are_masked_and_coded",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp_path,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
                "PYTHONPATH": str(ROOT),
                "NO_COLOR": "1",
            },
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
