"""What a sensor action may ask to be written, as values.

The use case performs them in order inside the packet's transaction; each
names the stored record it writes, so a path that takes many packets at once
can group them by table."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.capability import Observation
from domain.changes import ChangeReason
from domain.model import Circuit, PowerSource, SensorAction
from domain.packet_records import ActionOutcome
from domain.readings import CapacityReport, Reading


@dataclass(frozen=True, slots=True)
class AppendObservations:
    """Append each observation through the capability-status path (event
    store, latest projection, revision, notice). When every one of them was
    already recorded, the packet is a re-send: the outcome becomes
    ``if_all_recorded`` and the decision's later writes are dropped."""

    observations: tuple[Observation, ...]
    if_all_recorded: ActionOutcome


@dataclass(frozen=True, slots=True)
class UpdateSensorAction:
    action: SensorAction


@dataclass(frozen=True, slots=True)
class UpdatePowerSource:
    power_source: PowerSource


@dataclass(frozen=True, slots=True)
class UpdateCircuit:
    circuit: Circuit


@dataclass(frozen=True, slots=True)
class AnnounceChange:
    """Bump the revision of the depot's microgrid (if it has one) and tell its
    live cards why, after commit."""

    depot_id: UUID
    reason: ChangeReason


@dataclass(frozen=True, slots=True)
class RecordReadings:
    """Append load-chart readings and capacity reports for an applied update.
    The use case collects a packet's and appends them once, in its transaction."""

    readings: tuple[Reading, ...] = ()
    reports: tuple[CapacityReport, ...] = ()


Write = (
    AppendObservations
    | UpdateSensorAction
    | UpdatePowerSource
    | UpdateCircuit
    | AnnounceChange
    | RecordReadings
)
