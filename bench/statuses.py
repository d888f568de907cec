"""The capability status the ingest benchmarks post: one document, and a fresh
observation per request (a new provider event ref, so none is a duplicate)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

INGEST = """mutation ($input: RecordCapabilityStatusInput!) {
  recordCapabilityStatus(input: $input) { __typename } }"""


def status_body(microgrid_id: str, n: int) -> dict[str, object]:
    """The ``input`` of the ``n``-th status: DER and peak shaving in turn."""
    return {
        "microgridId": microgrid_id,
        "capability": "DER" if n % 2 else "PEAK_SHAVING",
        "value": bool(n % 3),
        "observedAt": datetime.now(UTC).isoformat(),
        "providerEventRef": f"bench-{uuid.uuid4()}",
    }


def ingest_request(microgrid_id: str, n: int) -> dict[str, object]:
    """The whole GraphQL request for the ``n``-th status."""
    return {"query": INGEST, "variables": {"input": status_body(microgrid_id, n)}}
