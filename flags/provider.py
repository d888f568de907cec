"""An OpenFeature provider backed by the service's database.

A flag's value for a depot (the evaluation context's targeting key; no key:
the global value) follows the domain's rule, DEPOT > GLOBAL > DEFAULT, from
the settings admins stored. Evaluations started together for known depots
(:func:`shared_read`) share one query, so every flag of a page of depots
costs one statement. Only the asynchronous methods read the database: the synchronous
ones answer the built-in default with an error rather than block the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from domain.feature_flags import FlagSetting, FlagSource, evaluate, known_flag
from domain.ports import UnitOfWorkFactory

REASONS = {
    FlagSource.DEPOT: Reason.TARGETING_MATCH,
    FlagSource.GLOBAL: Reason.STATIC,
    FlagSource.DEFAULT: Reason.DEFAULT,
}
SOURCE = "source"
"""The flag metadata key naming where the value came from (a FlagSource)."""

T = TypeVar("T")


@dataclass
class SharedRead:
    """One read of the settings for every evaluation started inside :func:`shared_read`."""

    depot_ids: frozenset[UUID]
    pending: asyncio.Future[list[FlagSetting]] | None = None
    failure: BaseException | None = None
    """What reading raised (OpenFeature answers a provider's error with the default
    value; the caller decides what the error means)."""


_shared: ContextVar[SharedRead | None] = ContextVar("shared_flag_read", default=None)


@contextmanager
def shared_read(depot_ids: Iterable[UUID | None]) -> Iterator[SharedRead]:
    """Evaluations started in this block (tasks copy the context) for these depots
    share one query, made by the first of them."""
    read = SharedRead(frozenset(d for d in depot_ids if d is not None))
    token = _shared.set(read)
    try:
        yield read
    finally:
        _shared.reset(token)


class SettingsReader:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def load(self, depot_id: UUID | None) -> list[FlagSetting]:
        """The global settings and those of ``depot_id``: from the shared read when
        one covers the depot, else with a query of its own."""
        read = _shared.get()
        if read is None or (depot_id is not None and depot_id not in read.depot_ids):
            return await self._read({depot_id} if depot_id else set())
        if read.pending is None:
            read.pending = asyncio.ensure_future(self._read(read.depot_ids))
            read.pending.add_done_callback(_retrieve)
        # Shielded: one cancelled evaluation must not cancel the others' read.
        return await asyncio.shield(read.pending)

    async def _read(self, depot_ids: Collection[UUID]) -> list[FlagSetting]:
        async with self._uow(write=False) as uow:
            return await uow.flags.for_depots(depot_ids)


def _retrieve(read: asyncio.Future[list[FlagSetting]]) -> None:
    """Mark a failure as seen even when every evaluation waiting for it was cancelled."""
    if not read.cancelled():
        read.exception()


class DatabaseFlagProvider(AbstractProvider):
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        super().__init__()
        self.settings = SettingsReader(uow)

    def get_metadata(self) -> Metadata:
        return Metadata(name="depot-microgrid-database")

    async def resolve_boolean_details_async(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        flag = known_flag(flag_key)
        if flag is None:
            return _error(default_value, ErrorCode.FLAG_NOT_FOUND, "no such feature flag")
        key = evaluation_context.targeting_key if evaluation_context else None
        depot_id = _depot_id(key)
        if key and depot_id is None:
            return _error(
                default_value, ErrorCode.INVALID_CONTEXT, "the targeting key is no depot id"
            )
        try:
            settings = await self.settings.load(depot_id)
        except Exception as error:
            read = _shared.get()
            if read is not None:
                read.failure = error
            return _error(default_value, ErrorCode.GENERAL, "flag settings could not be read")
        found = evaluate(flag, depot_id, settings)
        return FlagResolutionDetails(
            value=found.enabled,
            reason=REASONS[found.source],
            variant="on" if found.enabled else "off",
            flag_metadata={SOURCE: found.source.value},
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return _error(default_value, ErrorCode.GENERAL, "evaluate with the async client methods")

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "every flag is boolean")

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "every flag is boolean")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "every flag is boolean")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return _error(default_value, ErrorCode.TYPE_MISMATCH, "every flag is boolean")


def _depot_id(targeting_key: str | None) -> UUID | None:
    if not targeting_key:
        return None
    try:
        return UUID(targeting_key)
    except ValueError:
        return None


def _error(value: T, code: ErrorCode, message: str) -> FlagResolutionDetails[T]:
    return FlagResolutionDetails(
        value=value, error_code=code, error_message=message, reason=Reason.ERROR
    )
