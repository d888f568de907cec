"""The libraries the service leans on hardest are pinned to a compatible minor
range, and the lock file agrees with those ranges (DESIGN §1): an upgrade past
the range fails here, on a developer's machine, not in production."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]

PINNED = (
    "strawberry-graphql",
    "graphql-core",
    "sqlalchemy",
    "starlette",
    "uvicorn",
    "redis",
    "asyncpg",
    "cross-web",
    "openfeature-sdk",
)
"""Libraries whose behaviour (or non-public names) the service relies on."""


def _requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = (Requirement(line) for line in project["dependencies"])
    return {r.name.lower(): r for r in found}


def _locked() -> dict[str, Version]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {p["name"].lower(): Version(p["version"]) for p in lock["package"] if "version" in p}


@pytest.mark.parametrize("name", PINNED)
def test_declared_with_a_compatible_minor_range(name: str) -> None:
    requirement = _requirements().get(name)
    assert requirement is not None, f"{name} is imported by the service but not declared"
    specs = list(requirement.specifier)
    assert len(specs) == 1 and specs[0].operator == "~=", (
        f"{name} must be pinned with ~=X.Y.Z (a compatible minor range), not {requirement}"
    )
    assert len(Version(specs[0].version).release) == 3, (
        f"{name}: ~={specs[0].version} allows a new minor version; write ~=X.Y.Z"
    )


def test_the_lock_agrees_with_every_declared_range() -> None:
    locked = _locked()
    disagree = [
        f"{name} {locked.get(name)} outside {requirement.specifier}"
        for name, requirement in _requirements().items()
        if name not in locked or locked[name] not in requirement.specifier
    ]
    assert not disagree, "uv.lock disagrees with pyproject.toml (run `uv lock`): " + "; ".join(
        disagree
    )
