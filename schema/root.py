"""Query and Mutation roots, and the Schema with its extensions and executor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule

from graphql import GraphQLError
from resolvers import audit, sensors, site, status
from resolvers import microgrid as microgrid_resolvers
from schema import results as r
from schema import scalars
from schema.access import RoleAllowed
from schema.errors import ProblemErrors, log_client_errors
from schema.executor import SchemaExecutor
from schema.query_limits import ListLiteralLimit
from schema.request_checks import Limits, RequestChecks
from schema.subscription import Subscription
from schema.types import (
    AuditEntryConnection,
    ControllerBinding,
    Ctx,
    Depot,
    DepotConnection,
    Device,
)


def guarded(resolver: Callable[..., Any], description: str | None = None) -> Any:
    return strawberry.field(
        resolver=resolver, permission_classes=[RoleAllowed], description=description
    )


def guarded_mutation(resolver: Callable[..., Any], description: str | None = None) -> Any:
    return strawberry.mutation(
        resolver=resolver, permission_classes=[RoleAllowed], description=description
    )


@strawberry.type(
    description="Who the request's token belongs to, so a client can decide what to show."
)
class Viewer:
    role: str
    depot_ids: list[strawberry.ID] | None = strawberry.field(
        description="The depots the token is limited to; null when it sees every depot."
    )


def _viewer(info: Ctx) -> Viewer:
    principal = info.context.require_principal()
    ids = principal.scope.depot_ids
    return Viewer(
        role=principal.role.value,
        depot_ids=None if ids is None else sorted(strawberry.ID(str(i)) for i in ids),
    )


@strawberry.type
class Query:
    viewer: Viewer = guarded(_viewer)
    audit_trail: AuditEntryConnection = guarded(
        audit.audit_trail, "Accepted configuration changes, newest first (admin)."
    )
    depot: Depot | None = guarded(site.depot)
    depots: DepotConnection = guarded(site.depots)
    microgrid: r.MicrogridResult = guarded(microgrid_resolvers.microgrid)
    microgrid_by_depot: r.MicrogridResult = guarded(
        microgrid_resolvers.microgrid_by_depot,
        "Bootstrap/admin lookup; the result still carries its own microgrid id.",
    )
    microgrid_card: r.MicrogridCardResult = guarded(status.microgrid_card)
    controller_binding: ControllerBinding | None = guarded(sensors.controller_binding)
    device: Device | None = guarded(sensors.device)
    sensor_packets: r.SensorPacketConnection = guarded(
        sensors.sensor_packets,
        "Inbound packets with the outcome of each sensor action, newest first.",
    )


@strawberry.type
class Mutation:
    create_depot: r.CreateDepotResult = guarded_mutation(site.create_depot_mutation)
    create_circuit: r.CircuitResult = guarded_mutation(site.create_circuit)
    update_circuit: r.CircuitResult = guarded_mutation(site.update_circuit)
    delete_circuit: r.DeleteCircuitResult = guarded_mutation(site.delete_circuit)
    resync_microgrid: r.ResyncResult = guarded_mutation(microgrid_resolvers.resync)
    backfill_microgrids: r.BackfillReport = guarded_mutation(
        microgrid_resolvers.backfill_microgrids
    )
    create_power_source: r.PowerSourceResult = guarded_mutation(site.create_power_source)
    create_gateway: r.GatewayResult = guarded_mutation(site.create_gateway)
    create_device: r.DeviceResult = guarded_mutation(site.create_device)
    configure_sensor_action: r.SensorActionResult = guarded_mutation(
        sensors.configure_sensor_action
    )
    create_controller_binding: r.ControllerBindingResult = guarded_mutation(
        sensors.create_controller_binding
    )
    update_controller_binding: r.ControllerBindingResult = guarded_mutation(
        sensors.update_controller_binding
    )
    disable_controller_binding: r.ControllerBindingResult = guarded_mutation(
        sensors.disable_controller_binding
    )
    enable_controller_binding: r.ControllerBindingResult = guarded_mutation(
        sensors.enable_controller_binding
    )
    record_capability_status: r.RecordCapabilityStatusResult = guarded_mutation(
        status.record_status,
        "The canonical capability-status path (site power monitor and other providers).",
    )
    ingest_sensor_packet: r.IngestSensorPacketResult = guarded_mutation(
        sensors.ingest_sensor_packet,
        "A generic IoT sensor packet, exactly as a gateway sends it (snake_case JSON).",
    )


class MicrogridSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: Any | None = None
    ) -> None:
        log_client_errors(errors)


def build_schema(
    *,
    introspection: bool = True,
    max_depth: int = 15,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    max_cost: int = 2000,
    max_response_bytes: int = 8 * 1024 * 1024,
    max_result_items: int = 10_000,
    executor: type[SchemaExecutor] = SchemaExecutor,
) -> strawberry.Schema:
    """The schema with its limits; ``executor`` runs its operations (live
    delivery passes its subclass)."""
    # The validation cache is keyed by the rule classes: no fresh classes per request.
    rules: list[Any] = [ListLiteralLimit]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    limits = Limits(
        max_depth=max_depth,
        max_aliases=max_aliases,
        max_tokens=max_tokens,
        max_cost=max_cost,
        max_response_bytes=max_response_bytes,
        hide_suggestions=not introspection,
    )
    extensions: list[Any] = [lambda: RequestChecks(rules, limits), ProblemErrors]
    return MicrogridSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=type(
            "BudgetedExecutor", (executor,), {"max_items": max_result_items}
        ),
        config=scalars.config(),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
