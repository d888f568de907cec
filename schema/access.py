"""Role checks on every root field, from the operation table in domain.access."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from domain.access import may
from graphql import OperationType
from resolvers.errors import problem


def operation_key(info: Info[Any, Any]) -> str:
    return root_field_key(info.operation.operation, info.field_name)


def root_field_key(operation: OperationType, field_name: str) -> str:
    """The operation table's key for a root field of an operation of this type."""
    if operation == OperationType.SUBSCRIPTION and field_name == "microgridCard":
        return "microgridCard.subscription"
    return field_name


class RoleAllowed(BasePermission):
    message = "This token's role may not perform this operation."
    error_extensions = problem("FORBIDDEN", "Forbidden", 403, message)

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and may(principal, operation_key(info))
