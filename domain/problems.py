"""Expected domain outcomes that are not successes. They are returned, not raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class NotFound:
    resource: str
    id: str | None
    code: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if not self.code:
            object.__setattr__(self, "code", f"{_upper_snake(self.resource)}_NOT_FOUND")
        if not self.message:
            named = f"id {self.id}" if self.id is not None else "that id"
            object.__setattr__(self, "message", f"No {self.resource} with {named}.")


@dataclass(frozen=True)
class ValidationFailed:
    field_errors: tuple[FieldError, ...] = field(default_factory=tuple)
    code: str = "VALIDATION_FAILED"
    message: str = "The input is not valid."


@dataclass(frozen=True)
class Conflict:
    code: str
    message: str


@dataclass(frozen=True)
class ProvisioningFailed:
    code: str
    message: str
    depot_id: UUID


Problem = NotFound | ValidationFailed | Conflict | ProvisioningFailed


def _upper_snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.upper())
    return "".join(out).replace(" ", "_")


def invalid(field_name: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(field_errors=(FieldError(field_name, code, message),))


def collect(*problems: ValidationFailed | None) -> tuple[FieldError, ...]:
    """The field errors of every failed check, in order."""
    return tuple(e for p in problems if p for e in p.field_errors)
