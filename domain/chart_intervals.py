"""The load chart's overlays: when each capability showed which status with
which freshness, and where each circuit's effective capacity came from.

Both timelines are in observed time and cover ``[start, min(end, now))``.
Adjacent spans that show the same thing are one span; the last span's ``end``
is None when the range reaches ``now`` (it still holds), otherwise spans are
clipped to ``end``. Something observed after ``now`` (the API accepts up to
5 minutes ahead) lies beyond the chart's right edge and is not shown until
its time comes."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

from domain.capability import CapabilityType, Freshness, OperationalStatus, StatusEvent
from domain.capacity import HEARTBEAT_OK, CapacitySource
from domain.model import Circuit
from domain.readings import CapacityReport, CapacityRun

_Shown = TypeVar("_Shown", bound=Hashable)


@dataclass(frozen=True, slots=True)
class StatusRun:
    """Consecutive events of one capability (in (observedAt, sequence) order)
    with one status, each observed before the previous one went stale: the
    chart shows the status FRESH from ``first`` until ``last`` goes stale (or
    the next run begins). The events between the two change nothing."""

    first: StatusEvent
    last: StatusEvent

    @property
    def capability(self) -> CapabilityType:
        return self.first.observation.capability


@dataclass(frozen=True, slots=True)
class CapabilityInterval:
    capability: CapabilityType
    status: OperationalStatus
    freshness: Freshness
    start: datetime
    end: datetime | None
    """None while the interval is still open (it holds at ``now``)."""


@dataclass(frozen=True, slots=True)
class CapacitySourceInterval:
    circuit_id: UUID
    source: CapacitySource
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class _Span:
    start: datetime | None
    """None: since ever."""
    end: datetime | None
    """None: for ever."""


def status_runs(
    events: Sequence[StatusEvent], stale_after: Mapping[CapabilityType, int]
) -> list[StatusRun]:
    """``events`` as runs, ordered by capability, then observed order (as
    ``CapabilityEvents.status_changes`` answers)."""
    runs: list[StatusRun] = []
    for capability in sorted(CapabilityType):
        window = timedelta(seconds=stale_after[capability])
        first: StatusEvent | None = None
        last: StatusEvent | None = None
        for event in sorted(
            (e for e in events if e.observation.capability is capability),
            key=lambda e: e.order_key,
        ):
            if (
                first is None
                or last is None
                or event.status is not last.status
                or event.observation.observed_at >= last.observation.observed_at + window
            ):
                if first is not None and last is not None:
                    runs.append(StatusRun(first, last))
                first = event
            last = event
        if first is not None and last is not None:
            runs.append(StatusRun(first, last))
    return runs


def capability_intervals(
    runs: Sequence[StatusRun],
    stale_after: Mapping[CapabilityType, int],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[CapabilityInterval]:
    """Per capability (every CapabilityType, in its order), the spans of one
    (status, freshness). At instant ``t`` the status is that of the latest
    event observed at or before ``t`` by the projection's rule (newest
    observedAt, ties to the higher sequence), so a late event takes its
    observed place and never overrides a newer one, as on the card. It is
    FRESH while ``t < observedAt + stale_after[capability]``, then STALE with
    the status unchanged; before any event UNKNOWN / NEVER_REPORTED.

    ``runs``: as ``CapabilityEvents.status_changes`` answers (the runs from
    the latest event observed before ``start`` on), or ``status_runs`` of all
    the events."""
    found: list[CapabilityInterval] = []
    for capability in CapabilityType:
        mine = sorted(
            (r for r in runs if r.capability is capability), key=lambda r: r.first.order_key
        )
        window = timedelta(seconds=stale_after[capability])
        pieces: list[tuple[_Span, tuple[OperationalStatus, Freshness]]] = [
            (
                _Span(None, mine[0].first.observation.observed_at if mine else None),
                (OperationalStatus.UNKNOWN, Freshness.NEVER_REPORTED),
            )
        ]
        for i, run in enumerate(mine):
            begins = run.first.observation.observed_at
            following = mine[i + 1].first.observation.observed_at if i + 1 < len(mine) else None
            stale_at = run.last.observation.observed_at + window
            status = run.first.status
            if following is None or stale_at < following:
                pieces.append((_Span(begins, stale_at), (status, Freshness.FRESH)))
                pieces.append((_Span(stale_at, following), (status, Freshness.STALE)))
            else:
                pieces.append((_Span(begins, following), (status, Freshness.FRESH)))
        found.extend(
            CapabilityInterval(capability, status, freshness, span_start, span_end)
            for (status, freshness), span_start, span_end in _clipped(pieces, start, end, now)
        )
    return found


def source_class(report: CapacityReport) -> CapacitySource:
    """The source ``report`` gives while it is fresh: the controller's available
    capacity when the heartbeat is "ok" and it is known, else the fail-safe
    capacity when known, else the configured safe capacity (if the circuit
    has one)."""
    if report.heartbeat == HEARTBEAT_OK and report.available_w is not None:
        return CapacitySource.CONTROLLER_AVAILABLE
    if report.fail_safe_w is not None:
        return CapacitySource.CONTROLLER_FAIL_SAFE
    return CapacitySource.CONFIGURED_SAFE


def capacity_runs(reports: Sequence[CapacityReport], stale_after_seconds: int) -> list[CapacityRun]:
    """``reports`` (of one depot, in write order) as runs, ordered by circuit,
    then observed order (ties: write order), as ``Readings.capacity_runs``
    answers. A report begins a new run when its source class differs from the
    previous report's, or when it is CONTROLLER_AVAILABLE and observed once the
    previous one went stale; only available capacity goes stale, so a run of
    another class never splits on time."""
    window = timedelta(seconds=stale_after_seconds)
    by_circuit: dict[UUID, list[CapacityReport]] = {}
    for report in reports:
        by_circuit.setdefault(report.circuit_id, []).append(report)
    runs: list[CapacityRun] = []
    for circuit_id in sorted(by_circuit):
        first: CapacityReport | None = None
        last: CapacityReport | None = None
        for report in sorted(by_circuit[circuit_id], key=lambda r: r.observed_at):
            shown = source_class(report)
            if (
                first is None
                or last is None
                or shown is not source_class(last)
                or (
                    shown is CapacitySource.CONTROLLER_AVAILABLE
                    and report.observed_at >= last.observed_at + window
                )
            ):
                if first is not None and last is not None:
                    runs.append(CapacityRun(first, last))
                first = report
            last = report
        if first is not None and last is not None:
            runs.append(CapacityRun(first, last))
    return runs


def capacity_source_intervals(
    runs: Sequence[CapacityRun],
    circuits: Sequence[Circuit],
    start: datetime,
    end: datetime,
    now: datetime,
    stale_after_seconds: int,
) -> list[CapacitySourceInterval]:
    """Per circuit (in the order given), the spans where
    ``domain.capacity.effective_capacity`` answers one source. At instant
    ``t`` the circuit holds its latest report observed at or before ``t``
    (ties: the one written later): the controller's available capacity
    while its heartbeat is "ok", it is known and ``t < observedAt +
    stale_after_seconds``; else its fail-safe capacity if known; else the
    circuit's configured safe capacity if set (also before any report);
    else no span.

    ``runs``: as ``Readings.capacity_runs`` answers (the runs from each
    circuit's newest report before ``start`` on), or ``capacity_runs`` of all
    the reports, in observed order per circuit; ``circuits`` are the depot's
    circuits today (their configured safe capacity). Runs of circuits not
    given are ignored."""
    by_circuit: dict[UUID, list[CapacityRun]] = {c.id: [] for c in circuits}
    for run in runs:
        if run.circuit_id in by_circuit:
            by_circuit[run.circuit_id].append(run)
    window = timedelta(seconds=stale_after_seconds)
    found: list[CapacitySourceInterval] = []
    for circuit in circuits:
        mine = sorted(by_circuit[circuit.id], key=lambda r: r.first.observed_at)
        configured = CapacitySource.CONFIGURED_SAFE if circuit.safe_capacity_w is not None else None
        pieces: list[tuple[_Span, CapacitySource | None]] = [
            (_Span(None, mine[0].first.observed_at if mine else None), configured)
        ]
        for i, run in enumerate(mine):
            begins = run.first.observed_at
            following = mine[i + 1].first.observed_at if i + 1 < len(mine) else None
            shown = source_class(run.last)
            fallback = (
                CapacitySource.CONTROLLER_FAIL_SAFE
                if run.last.fail_safe_w is not None
                else configured
            )
            if shown is CapacitySource.CONTROLLER_AVAILABLE:
                stale_at = run.last.observed_at + window
                if following is None or stale_at < following:
                    pieces.append((_Span(begins, stale_at), shown))
                    pieces.append((_Span(stale_at, following), fallback))
                else:
                    pieces.append((_Span(begins, following), shown))
            else:
                pieces.append((_Span(begins, following), fallback))
        found.extend(
            CapacitySourceInterval(circuit.id, source, span_start, span_end)
            for source, span_start, span_end in _clipped(pieces, start, end, now)
            if source is not None
        )
    return found


def _clipped(
    pieces: Sequence[tuple[_Span, _Shown]], start: datetime, end: datetime, now: datetime
) -> list[tuple[_Shown, datetime, datetime | None]]:
    """``pieces`` (consecutive, in time order) clipped to ``[start, min(end,
    now))``, empty ones dropped, equal neighbours merged, the last left open
    when the range reaches ``now``."""
    horizon = min(end, now)
    merged: list[tuple[_Shown, datetime, datetime]] = []
    for span, shown in pieces:
        lo = start if span.start is None else max(span.start, start)
        hi = horizon if span.end is None else min(span.end, horizon)
        if lo >= hi:
            continue
        if merged and merged[-1][0] == shown and merged[-1][2] == lo:
            merged[-1] = (shown, merged[-1][1], hi)
        else:
            merged.append((shown, lo, hi))
    open_at_now = end >= now
    return [(shown, lo, None if open_at_now and hi == horizon else hi) for shown, lo, hi in merged]
