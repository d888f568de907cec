"""The Problem interface and its members: expected outcomes returned as data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from domain import problems as p


@strawberry.interface(description="An expected outcome that is not a success.")
class Problem:
    code: str = strawberry.field(
        description="Stable machine-readable code, e.g. MICROGRID_NOT_FOUND."
    )
    message: str


@strawberry.type
class FieldError:
    field: str = strawberry.field(
        description="Input path, e.g. input.name or packet.sensors[0].measurands[2].value."
    )
    code: str
    message: str


@strawberry.type
class NotFound(Problem):
    resource: str
    id: strawberry.ID | None


@strawberry.type
class ValidationFailed(Problem):
    field_errors: list[FieldError]


@strawberry.type
class Conflict(Problem):
    pass


@strawberry.type
class ProvisioningFailed(Problem):
    depot_id: strawberry.ID


ProblemType = NotFound | ValidationFailed | Conflict | ProvisioningFailed
_DOMAIN_PROBLEMS = (p.NotFound, p.ValidationFailed, p.Conflict, p.ProvisioningFailed)
T = TypeVar("T")


def present(result: T | p.Problem, success: Callable[[T], object]) -> Any:
    """A resolver's result as a member of its result union: a domain problem
    as its Problem type, anything else through ``success``."""
    if isinstance(result, _DOMAIN_PROBLEMS):
        return to_problem(result)
    return success(result)


def to_problem(problem: p.Problem) -> Any:
    """The schema type for a domain problem (typed Any: it joins many result unions)."""
    match problem:
        case p.NotFound():
            return NotFound(
                code=problem.code,
                message=problem.message,
                resource=problem.resource,
                id=strawberry.ID(problem.id) if problem.id else None,
            )
        case p.ValidationFailed():
            return ValidationFailed(
                code=problem.code,
                message=problem.message,
                field_errors=[
                    FieldError(field=e.field, code=e.code, message=e.message)
                    for e in problem.field_errors
                ],
            )
        case p.Conflict():
            return Conflict(code=problem.code, message=problem.message)
        case p.ProvisioningFailed():
            return ProvisioningFailed(
                code=problem.code,
                message=problem.message,
                depot_id=strawberry.ID(str(problem.depot_id)),
            )
