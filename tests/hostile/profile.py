"""Hypothesis settings of the hostile suite: few examples each (the strategies
put the worst values first), no deadline, fixtures shared by the examples.
HOSTILE_EXAMPLES raises the count for a longer local hunt."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "15"))

hostile = settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
