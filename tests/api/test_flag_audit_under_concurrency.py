"""Concurrent setFeatureFlag of one key (20 admins at once, as a probe from outside
did): every change is audited with the value it really replaced, so the trail's
`previous` → `enabled` steps chain from the first value to the final one."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.api.helpers import new_depot
from tests.api.test_feature_flags import KEY, SET

CLIENTS = 20
TRAIL = "{ auditTrail(first: 100) { edges { node { action depotId detail } } } }"
VALUES: tuple[bool | None, ...] = (True, False, None)


def _chains(steps: list[tuple[Any, Any]], first: Any, last: Any) -> bool:
    """Whether the steps (in any order) can form one serial history from ``first``
    to ``last``: each value is left as often as it is entered, except at the ends."""
    left = Counter(previous for previous, _ in steps)
    entered = Counter(enabled for _, enabled in steps)
    return all(
        left[v] - entered[v] == (v == first) - (v == last)
        for v in set(left) | set(entered) | {first, last}
    )


async def test_concurrent_sets_of_one_key_audit_the_value_each_replaced(admin):
    depot = (await new_depot(admin, "North", "F"))["depot"]["id"]
    for target in (None, depot):
        scope = {} if target is None else {"depotId": target}
        results = await asyncio.gather(
            *(
                admin.execute(SET, {"i": {"key": KEY, "enabled": VALUES[i % 3], **scope}})
                for i in range(CLIENTS)
            )
        )
        assert all(r["setFeatureFlag"]["__typename"] == "FeatureFlag" for r in results)

    trail = [e["node"] for e in (await admin.execute(TRAIL))["auditTrail"]["edges"]]
    final = {
        None: await _setting(admin, None),
        depot: await _setting(admin, depot),
    }
    for target in (None, depot):
        steps = [
            (e["detail"]["previous"], e["detail"]["enabled"])
            for e in trail
            if e["action"] == "setFeatureFlag" and e["depotId"] == target
        ]
        assert len(steps) == CLIENTS
        assert _chains(steps, None, final[target]), (target, final[target], steps)


async def _setting(admin: Any, depot: str | None) -> bool | None:
    """The stored setting itself (None: none), read from the evaluation's source."""
    query = "query ($d: ID) { featureFlags(depotId: $d) { enabled source } }"
    (flag,) = (await admin.execute(query, {"d": depot}))["featureFlags"]
    own = "GLOBAL" if depot is None else "DEPOT"
    return bool(flag["enabled"]) if flag["source"] == own else None
