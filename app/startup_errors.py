"""What ``microgrid serve`` prints when its settings or its database keep it
from starting: one line that names the environment variable at fault, never a
traceback (an operator reads it in a crash-looping container's last log line)."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    ArgumentError,
    SQLAlchemyError,
    OSError,
    ValueError,
    ImportError,
)
"""What an unusable DATABASE_URL raises while ``serve`` starts: an unparsable
URL or port, an unknown option, a driver that is not installed, a server
that refuses or rejects it."""

try:  # the driver's own errors, when PostgreSQL is in use
    from asyncpg import PostgresError
    from asyncpg.exceptions import InterfaceError

    DATABASE_ERRORS = (*DATABASE_ERRORS, PostgresError, InterfaceError)
except ImportError:  # pragma: no cover - asyncpg is a dependency
    pass


def settings_problem(error: ValidationError) -> str:
    """``VARIABLE=value is not usable: why`` for each invalid setting, on one line."""
    problems = []
    for item in error.errors():
        name = "_".join(str(part) for part in item["loc"]).upper() or "settings"
        value = item.get("input")
        shown = f"={value}" if isinstance(value, str | int | float) else ""
        problems.append(f"{name}{shown} is not usable: {item['msg']}")
    return "; ".join(problems)


def database_problem(error: BaseException) -> str:
    """``DATABASE_URL is not usable: why``, without the URL (it may hold a password)."""
    cause: BaseException = error
    if isinstance(error, DBAPIError) and error.orig is not None:
        cause = error.orig
    lines = str(cause).strip().splitlines()
    why = lines[0] if lines else type(cause).__name__
    return f"DATABASE_URL is not usable: {type(cause).__name__}: {why}"
