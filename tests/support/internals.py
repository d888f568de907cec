"""For the guard tests of the one module per library that may use the
library's non-public names (DESIGN §1)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ("app", "domain", "live_updates", "persistence", "resolvers", "schema")


def modules_naming(names: tuple[str, ...], allowed: str) -> list[str]:
    """The service's modules, other than ``allowed``, whose text has any of ``names``."""
    return sorted(
        str(path.relative_to(ROOT))
        for package in SERVICE
        for path in (ROOT / package).rglob("*.py")
        if str(path.relative_to(ROOT)) != allowed
        and any(name in path.read_text() for name in names)
    )
