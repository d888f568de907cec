"""Scalar parsing that answers every unparseable value as a client error.

Strawberry's DateTime parser turns ValueError into a coercion error but lets
OverflowError escape (``9999-12-31T24:00:00Z``), which became a 500. This
definition is the same scalar (same name, description, serialisation) with
every parse failure a coercion error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dateutil.parser
import strawberry
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.config import StrawberryConfig


def parse_datetime(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Expected a string.'
        )
    shown = value if len(value) <= 64 else value[:64] + "…"
    try:
        return dateutil.parser.isoparse(value)
    except (ValueError, OverflowError) as error:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{shown}". {error}'
        ) from None


DateTime: Any = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat)",
    serialize=dt.datetime.isoformat,
    parse_value=parse_datetime,
)


def config() -> StrawberryConfig:
    """The schema's config: Strawberry's defaults with the scalars above."""
    return StrawberryConfig(scalar_map={dt.datetime: DateTime})
