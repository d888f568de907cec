"""Who may do what: roles, depot scope, and the operation table."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    INTEGRATION = "integration"


@dataclass(frozen=True)
class Scope:
    """The depots a token may see; ``None`` means every depot."""

    depot_ids: frozenset[UUID] | None = None

    def allows(self, depot_id: UUID) -> bool:
        return self.depot_ids is None or depot_id in self.depot_ids

    @staticmethod
    def only(depot_id: UUID) -> Scope:
        """One depot: a lookup "in this depot" finds nothing elsewhere, as if missing."""
        return Scope(frozenset({depot_id}))


EVERYWHERE = Scope()


@dataclass(frozen=True)
class Principal:
    token_id: UUID
    role: Role
    scope: Scope


READ = frozenset({Role.ADMIN, Role.OPERATOR})
CONFIGURE = frozenset({Role.ADMIN})
INGEST = frozenset({Role.ADMIN, Role.INTEGRATION})

ANY_ROLE = frozenset(Role)

OPERATION_ROLES: dict[str, frozenset[Role]] = {
    # queries
    "viewer": ANY_ROLE,
    "depot": READ,
    "depots": READ,
    "microgrid": READ,
    "microgridByDepot": READ,
    "microgridCard": READ,
    "controllerBinding": READ,
    "device": READ,
    "sensorPackets": READ,
    "loadChart": READ,
    "auditTrail": CONFIGURE,
    "featureFlags": READ,
    # configuration mutations
    "createDepot": CONFIGURE,
    "createCircuit": CONFIGURE,
    "updateCircuit": CONFIGURE,
    "deleteCircuit": CONFIGURE,
    "resyncMicrogrid": CONFIGURE,
    "backfillMicrogrids": CONFIGURE,
    "createPowerSource": CONFIGURE,
    "createGateway": CONFIGURE,
    "createDevice": CONFIGURE,
    "configureSensorAction": CONFIGURE,
    "createControllerBinding": CONFIGURE,
    "updateControllerBinding": CONFIGURE,
    "disableControllerBinding": CONFIGURE,
    "enableControllerBinding": CONFIGURE,
    "setFeatureFlag": CONFIGURE,
    # ingest mutations
    "recordCapabilityStatus": INGEST,
    "ingestSensorPacket": INGEST,
    "ingestSensorPackets": INGEST,
    # subscriptions
    "microgridCard.subscription": READ,
    "capabilityStatusEvents": READ,
    "microgridTopology": READ,
}


def may(principal: Principal, operation: str) -> bool:
    return principal.role in OPERATION_ROLES.get(operation, frozenset())
