"""Feature flags: a flag's value where it applies, and the admin's setting input."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.feature_flags import FlagEvaluation, FlagSource
from schema.common import gid_or_none
from schema.problems import NotFound, ValidationFailed

strawberry.enum(
    FlagSource,
    name="FeatureFlagSource",
    description="Where a flag's value comes from: DEPOT > GLOBAL > DEFAULT.",
)


@strawberry.type(
    description="A flag's value for a depot (or globally): it tells clients what to show;"
    " the API's data is served whatever it says."
)
class FeatureFlag:
    key: str
    description: str
    enabled: bool
    source: FlagSource
    depot_id: strawberry.ID | None = strawberry.field(
        description="The depot this evaluation is for; null for the global value."
    )

    @classmethod
    def from_domain(cls, e: FlagEvaluation) -> FeatureFlag:
        return cls(
            key=e.flag.key,
            description=e.flag.description,
            enabled=e.enabled,
            source=e.source,
            depot_id=gid_or_none(e.depot_id),
        )


@strawberry.input
class SetFeatureFlagInput:
    key: str
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="Null removes the setting: a depot falls back to the global value,"
        " the global value to the default.",
    )
    depot_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Omit for the global setting."
    )


SetFeatureFlagResult = Annotated[
    FeatureFlag | NotFound | ValidationFailed, strawberry.union("SetFeatureFlagResult")
]
