"""Feature flags: the known flags and how a flag's value is decided.

A flag tells clients what to show; the API serves its data whatever a flag
says. Each known flag has a built-in default; an admin may set a global value
and a value per depot. For a depot the depot's setting wins, then the global
setting, then the default (DEPOT > GLOBAL > DEFAULT); the global value skips
the first step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.problems import FieldError


class FlagSource(StrEnum):
    DEFAULT = "DEFAULT"
    GLOBAL = "GLOBAL"
    DEPOT = "DEPOT"


@dataclass(frozen=True)
class FeatureFlag:
    key: str
    description: str
    default: bool


NEW_MICROGRID_FIELDS_LOAD_CHART = FeatureFlag(
    key="new-microgrid-fields-load-chart",
    description=(
        "Shows the load page's microgrid fields: the Microgrid card's capability sections"
        " and the load chart's microgrid overlays (PEAK_SHAVING / DER bands and the"
        " circuits' capacity lines). The API serves that data whatever the flag says."
    ),
    default=False,
)

KNOWN_FLAGS: Mapping[str, FeatureFlag] = {
    flag.key: flag for flag in (NEW_MICROGRID_FIELDS_LOAD_CHART,)
}
"""Every flag the service knows, in the order lists show them."""


@dataclass(frozen=True)
class FlagSetting:
    """An admin's value for a flag: global (``depot_id`` None) or for one depot."""

    key: str
    depot_id: UUID | None
    enabled: bool
    updated_at: datetime
    updated_by: UUID | None = None
    """The token that set it; None when set from the command line."""


@dataclass(frozen=True)
class FlagEvaluation:
    """A flag's value for a depot (or, with ``depot_id`` None, its global value)."""

    flag: FeatureFlag
    depot_id: UUID | None
    enabled: bool
    source: FlagSource


def decide(
    flag: FeatureFlag, global_setting: bool | None, depot_setting: bool | None
) -> tuple[bool, FlagSource]:
    """DEPOT > GLOBAL > DEFAULT."""
    if depot_setting is not None:
        return depot_setting, FlagSource.DEPOT
    if global_setting is not None:
        return global_setting, FlagSource.GLOBAL
    return flag.default, FlagSource.DEFAULT


def evaluate(
    flag: FeatureFlag, depot_id: UUID | None, settings: Iterable[FlagSetting]
) -> FlagEvaluation:
    """The flag for ``depot_id`` from whichever ``settings`` apply to it (others are ignored)."""
    global_setting = depot_setting = None
    for s in settings:
        if s.key != flag.key:
            continue
        if s.depot_id is None:
            global_setting = s.enabled
        elif s.depot_id == depot_id:
            depot_setting = s.enabled
    enabled, source = decide(flag, global_setting, depot_setting)
    return FlagEvaluation(flag, depot_id, enabled, source)


def known_flag(key: object) -> FeatureFlag | None:
    return KNOWN_FLAGS.get(key) if isinstance(key, str) else None


def unknown_key_error(field: str = "input.key") -> FieldError:
    """The key is not one of KNOWN_FLAGS (the message never echoes the client's text)."""
    return FieldError(
        field, "UNKNOWN_FEATURE_FLAG", "No such feature flag; known: " + ", ".join(KNOWN_FLAGS)
    )
