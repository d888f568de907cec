"""A test run leaves the checkout as it found it (`git status --porcelain` stays
empty): what the tools write for themselves goes to an ignored directory, and
none of it is tracked. Schemathesis runs in a temporary directory
(tests/e2e/test_schemathesis.py); Hypothesis keeps its example database in the
ignored `.hypothesis/`, so a failure found once is replayed in the next run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATE_DIRECTORIES = [
    ".hypothesis",
    ".pytest_cache",
    ".schemathesis",
    ".mypy_cache",
    ".ruff_cache",
    ".venv",
    "artifacts",
]


def _git(*args: str) -> str:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout


def test_the_tools_state_directories_are_ignored():
    probes = [f"{name}/state" for name in STATE_DIRECTORIES]
    ignored = set(_git("check-ignore", *probes).split())
    assert sorted(set(probes) - ignored) == []


def test_no_tool_state_is_tracked():
    assert _git("ls-files", "--", *STATE_DIRECTORIES).split() == []
