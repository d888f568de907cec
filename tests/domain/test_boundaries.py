"""domain/ imports nothing outward: no framework, no outer layer (DESIGN §1)."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
FORBIDDEN = {
    "sqlalchemy",
    "strawberry",
    "redis",
    "starlette",
    "uvicorn",
    "graphql",
    "pydantic",
    "pydantic_settings",
    "alembic",
    "asyncpg",
    "aiosqlite",
    "typer",
    "rich",
    "persistence",
    "resolvers",
    "schema",
    "app",
    "httpx",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_reaches_no_framework_or_outer_layer():
    offenders = {
        str(p.relative_to(DOMAIN.parent)): sorted(_imports(p) & FORBIDDEN)
        for p in sorted(DOMAIN.rglob("*.py"))
        if _imports(p) & FORBIDDEN
    }
    assert offenders == {}


def test_graphql_folder_holds_data_only():
    graphql_dir = DOMAIN.parent / "graphql"
    assert not list(graphql_dir.rglob("*.py")), "graphql/ must not hold Python files"
