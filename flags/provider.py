"""An OpenFeature provider backed by the service's database.

A flag's value for a depot (the evaluation context's targeting key; no key:
the global value) follows the domain's rule, DEPOT > GLOBAL > DEFAULT, from
the settings admins stored. Lookups made in the same turn of the event loop
share one query, so evaluating every flag of a page of depots costs one
statement. Only the asynchronous methods read the database: the synchronous
ones answer the built-in default with an error rather than block the loop."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
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

_failures: ContextVar[list[BaseException] | None] = ContextVar("flag_read_failures", default=None)


@contextmanager
def read_failures() -> Iterator[list[BaseException]]:
    """The errors reading settings raised during evaluations started in this block
    (OpenFeature turns a provider's error into a default value; the caller decides)."""
    failures: list[BaseException] = []
    token = _failures.set(failures)
    try:
        yield failures
    finally:
        _failures.reset(token)


@dataclass
class _Batch:
    done: asyncio.Future[list[FlagSetting]]
    depot_ids: set[UUID] = field(default_factory=set)


class CoalescedSettings:
    """Settings lookups made in one turn of the event loop, answered by one query."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._open: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = (
            weakref.WeakKeyDictionary()
        )
        self._reads: set[asyncio.Task[None]] = set()

    async def load(self, depot_id: UUID | None) -> list[FlagSetting]:
        """The global settings and those of ``depot_id``."""
        loop = asyncio.get_running_loop()
        batch = self._open.get(loop)
        if batch is None:
            batch = self._open[loop] = _Batch(loop.create_future())
            loop.call_soon(self._dispatch, loop, batch)
        if depot_id is not None:
            batch.depot_ids.add(depot_id)
        # Shielded: one cancelled caller must not cancel the others' shared read.
        return await asyncio.shield(batch.done)

    def _dispatch(self, loop: asyncio.AbstractEventLoop, batch: _Batch) -> None:
        if self._open.get(loop) is batch:
            del self._open[loop]
        task = loop.create_task(self._read(batch))
        self._reads.add(task)
        task.add_done_callback(self._reads.discard)

    async def _read(self, batch: _Batch) -> None:
        try:
            async with self._uow(write=False) as uow:
                settings = await uow.flags.for_depots(batch.depot_ids)
        except Exception as error:
            batch.done.set_exception(error)
        else:
            batch.done.set_result(settings)


class DatabaseFlagProvider(AbstractProvider):
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        super().__init__()
        self.settings = CoalescedSettings(uow)

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
            sink = _failures.get()
            if sink is not None:
                sink.append(error)
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
