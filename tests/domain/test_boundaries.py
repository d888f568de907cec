"""Import boundaries (DESIGN §1): domain/ imports nothing outward (no framework,
no outer layer); bench/ never imports tests/."""

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


def test_benchmarks_never_import_the_tests():
    bench = DOMAIN.parent / "bench"
    offenders = sorted(
        str(p.relative_to(DOMAIN.parent)) for p in bench.rglob("*.py") if "tests" in _imports(p)
    )
    assert offenders == [], "bench/ imports tests/ (DESIGN §1): move the helper to bench/"


def test_benchmarks_leave_sys_path_alone():
    """bench/ scripts run as `python -m bench.x`; none reaches into the tree
    by inserting paths (which is how it once imported tests/)."""
    bench = DOMAIN.parent / "bench"
    offenders = sorted(
        str(p.relative_to(DOMAIN.parent))
        for p in bench.rglob("*.py")
        if any(
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            for node in ast.walk(ast.parse(p.read_text(), str(p)))
        )
    )
    assert offenders == [], "bench/ changes sys.path: run it as `python -m bench.x` instead"
