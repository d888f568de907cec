"""The dependency rule of DESIGN §1, read from the code: every import in every
package, and every assignment to a library's attribute.

Imports point one way: ``app -> schema -> resolvers -> domain <- persistence``;
``live_updates`` sits beside ``schema`` (it may use ``schema``, ``resolvers`` and
``domain``, never the reverse); ``flags`` (the OpenFeature provider and evaluator)
sits beside ``persistence``: it uses ``domain`` only, and no other layer imports
``openfeature``; only ``app``, the composition root, knows every piece. The
simulator talks to the service over HTTP only, the console is static files,
and ``bench/`` never imports ``tests/``; ``graphql_documents`` reads the
``graphql/`` files for anyone and imports nothing of ours. A failure names each
forbidden arrow as ``file -> module``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

OURS = (
    "app",
    "bench",
    "console",
    "domain",
    "flags",
    "graphql_documents",
    "live_updates",
    "persistence",
    "resolvers",
    "schema",
    "simulator",
    "tests",
)
FRAMEWORKS = (
    "aiosqlite",
    "alembic",
    "asyncpg",
    "graphql",
    "httpx",
    "openfeature",
    "pydantic",
    "pydantic_settings",
    "redis",
    "rich",
    "sqlalchemy",
    "starlette",
    "strawberry",
    "typer",
    "uvicorn",
)
SERVICE = (
    "app",
    "domain",
    "flags",
    "live_updates",
    "persistence",
    "resolvers",
    "schema",
    "console",
)

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "domain": tuple(p for p in OURS if p != "domain") + FRAMEWORKS,
    "persistence": (
        "app",
        "bench",
        "console",
        "flags",
        "openfeature",
        "live_updates",
        "resolvers",
        "schema",
        "simulator",
        "tests",
        "graphql",
        "httpx",
        "redis",
        "starlette",
        "strawberry",
        "uvicorn",
    ),
    "resolvers": (
        "app",
        "bench",
        "console",
        "flags",
        "openfeature",
        "live_updates",
        "persistence",
        "schema",
        "simulator",
        "tests",
        "aiosqlite",
        "asyncpg",
        "graphql",
        "redis",
        "sqlalchemy",
        "starlette",
        "strawberry",
        "uvicorn",
    ),
    "schema": (
        "app",
        "bench",
        "console",
        "flags",
        "openfeature",
        "live_updates",
        "persistence",
        "simulator",
        "tests",
        "aiosqlite",
        "alembic",
        "asyncpg",
        "redis",
        "sqlalchemy",
        "starlette",
        "uvicorn",
    ),
    "live_updates": (
        "app",
        "bench",
        "console",
        "flags",
        "openfeature",
        "persistence",
        "simulator",
        "tests",
        "aiosqlite",
        "asyncpg",
        "redis",
        "sqlalchemy",
    ),
    "flags": (
        "app",
        "bench",
        "console",
        "graphql_documents",
        "live_updates",
        "persistence",
        "resolvers",
        "schema",
        "simulator",
        "tests",
        *(f for f in FRAMEWORKS if f != "openfeature"),
    ),
    "simulator": (*SERVICE, "bench", "tests"),
    "console": tuple(p for p in OURS if p != "console"),
    "graphql_documents": tuple(p for p in OURS if p != "graphql_documents"),
    "bench": ("tests",),
}
"""Per package, the top-level modules it must never import."""

ALLOWED: dict[str, tuple[str, ...]] = {
    "resolvers": ("strawberry.dataloader",),
}
"""Narrow exceptions: a resolver batches reads with Strawberry's DataLoader, a
utility, not a schema type."""

LIBRARY_INTERNALS = frozenset(
    {
        "app/opentelemetry_internals.py",
        "schema/graphql_core_internals.py",
        "schema/strawberry_internals.py",
        "persistence/sqlalchemy_internals.py",
    }
)
"""The one module per library that may touch the library's non-public names
(DESIGN §1); every other module assigning to a library's attribute fails."""


def _python_files(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def _imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _forbidden_arrows(package: str) -> list[str]:
    banned, allowed = FORBIDDEN[package], ALLOWED.get(package, ())
    arrows = []
    for path in _python_files(package):
        for module in _imported_modules(ast.parse(path.read_text(), str(path))):
            if module.split(".")[0] not in banned:
                continue
            if any(module == a or module.startswith(a + ".") for a in allowed):
                continue
            arrows.append(f"{path.relative_to(ROOT)} -> {module}")
    return arrows


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    arrows = _forbidden_arrows(package)
    assert arrows == [], f"forbidden imports from {package}/ (DESIGN §1):\n" + "\n".join(arrows)


def _library_names(tree: ast.Module) -> set[str]:
    """Names a module binds to a library's modules, classes or functions."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in OURS:
                    names.add((alias.asname or alias.name).split(".")[0])
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] not in OURS
            and node.module != "__future__"
        ):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _patches(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    library = _library_names(tree)
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
            targets = [node.args[0]] if node.args else []
        for target in targets:
            is_attribute = isinstance(target, ast.Attribute) or isinstance(node, ast.Call)
            if is_attribute and _root_name(target) in library:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_module_patches_a_library_outside_its_internals_module() -> None:
    patches = [
        patch
        for package in sorted(set(SERVICE) | {"simulator"})
        for path in _python_files(package)
        if str(path.relative_to(ROOT)) not in LIBRARY_INTERNALS
        for patch in _patches(path)
    ]
    assert patches == [], (
        "assignments to a library's attributes outside the one module per library"
        " (DESIGN §1):\n" + "\n".join(patches)
    )


def test_no_asyncio_private_attributes() -> None:
    uses = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in sorted(set(SERVICE) | {"simulator"})
        for path in _python_files(package)
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and node.attr.startswith("_asyncio")
    ]
    assert uses == [], "asyncio's private attributes (DESIGN §1):\n" + "\n".join(uses)


def test_the_rules_cover_every_package() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert packages - {"tests"} <= set(FORBIDDEN) | {"app"}, (
        "a new top-level package needs its arrows in FORBIDDEN (DESIGN §1)"
    )


def test_graphql_folder_holds_data_only() -> None:
    assert not list((ROOT / "graphql").rglob("*.py")), "graphql/ must not hold Python files"


def test_benchmarks_leave_sys_path_alone() -> None:
    """bench/ scripts run as ``python -m bench.x``; none reaches into the tree by
    inserting paths (which is how it once imported tests/)."""
    offenders = sorted(
        str(p.relative_to(ROOT))
        for p in _python_files("bench")
        if any(
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            for node in ast.walk(ast.parse(p.read_text(), str(p)))
        )
    )
    assert offenders == [], "bench/ changes sys.path: run it as `python -m bench.x` instead"


def test_every_internals_module_exists() -> None:
    missing = sorted(m for m in LIBRARY_INTERNALS if not (ROOT / m).exists())
    assert missing == [], "LIBRARY_INTERNALS names a module that is gone"
