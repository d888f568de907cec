"""Building depots through the public API."""

from __future__ import annotations

from typing import Any

from tests.support.graphql import GraphQLClient


async def new_depot(client: GraphQLClient, name: str = "Depot", *top_level: str) -> dict[str, Any]:
    result = await client.op(
        "CreateDepot", input={"name": name, "topLevelCircuits": [{"name": n} for n in top_level]}
    )
    assert result["__typename"] == "CreateDepotSuccess", result
    return result


async def new_circuit(client: GraphQLClient, depot_id: str, name: str, **extra: Any) -> dict:
    result = await client.op("CreateCircuit", input={"depotId": depot_id, "name": name, **extra})
    assert result["__typename"] == "CircuitSuccess", result
    return result


def grid(microgrid: dict[str, Any]) -> list[tuple[str, int]]:
    return [(g["name"], g["position"]) for g in microgrid["gridConnections"]]
