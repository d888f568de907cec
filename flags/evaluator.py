"""The use cases' flag evaluator: every known flag through an OpenFeature
client, with the depot id as the evaluation context's targeting key."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import FlagEvaluationDetails
from openfeature.provider.no_op_provider import NoOpProvider

from domain.feature_flags import KNOWN_FLAGS, FeatureFlag, FlagEvaluation, FlagSource
from domain.ports import UnitOfWorkFactory
from flags.provider import SOURCE, DatabaseFlagProvider, shared_read


class FlagSettingsUnreadable(RuntimeError):
    """The provider could not read the settings; raised from the storage error."""


class FlagEvaluationFailed(RuntimeError):
    """OpenFeature answered an error for a known flag (a fault, never a client's)."""


class OpenFeatureFlags:
    """Registers its own provider under an OpenFeature domain of its own, so that
    each composition root (tests build many per process) reads its own database."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.domain = f"depot-microgrid/{uuid4()}"
        self.provider = DatabaseFlagProvider(uow)
        api.set_provider_and_wait(self.provider, domain=self.domain)
        self.client = api.get_client(domain=self.domain)

    async def evaluate(
        self, depot_ids: Sequence[UUID | None]
    ) -> dict[UUID | None, list[FlagEvaluation]]:
        targets = list(dict.fromkeys(depot_ids))
        flags = list(KNOWN_FLAGS.values())
        with shared_read(targets) as read:
            # One after the other: the first evaluation reads for all of them
            # (tasks per evaluation cost more than the evaluations themselves).
            details = [
                await self.client.get_boolean_details_async(
                    flag.key, flag.default, EvaluationContext(str(d) if d else None)
                )
                for d in targets
                for flag in flags
            ]
        if read.failure is not None:
            raise FlagSettingsUnreadable("flag settings could not be read") from read.failure
        found: dict[UUID | None, list[FlagEvaluation]] = {d: [] for d in targets}
        for i, detail in enumerate(details):
            depot_id, flag = targets[i // len(flags)], flags[i % len(flags)]
            found[depot_id].append(_evaluation(flag, depot_id, detail))
        return found

    def close(self) -> None:
        """Unregister the provider (its domain falls back to a no-op provider)."""
        api.set_provider_and_wait(NoOpProvider(), domain=self.domain)


def _evaluation(
    flag: FeatureFlag, depot_id: UUID | None, detail: FlagEvaluationDetails[bool]
) -> FlagEvaluation:
    if detail.error_code is not None:
        raise FlagEvaluationFailed(f"{flag.key}: {detail.error_code} {detail.error_message}")
    return FlagEvaluation(
        flag, depot_id, bool(detail.value), FlagSource(str(detail.flag_metadata[SOURCE]))
    )
