"""The gateway's other sensors beside the BBA controller: generic keys that
have no BBA source (DESIGN §2), sent as they are in a second sensor of the
same packet. The site meter reports the load (TOTAL_POWER_LOAD, which
UPDATE_POWER_SOURCE_LOAD applies); the site's energy management system
reports peak shaving (LIMIT_PEAK_SHAVING) — never inferred from a BBA key."""

from __future__ import annotations

from simulator.bba import Measurand, State

SENSOR_ID = "site-1"

TOTAL_POWER_LOAD = "TOTAL_POWER_LOAD"
LIMIT_PEAK_SHAVING = "LIMIT_PEAK_SHAVING"

NUMBER_UNITS = {TOTAL_POWER_LOAD: "W"}
FLAG_KEYS = (LIMIT_PEAK_SHAVING,)
NUMBER_KEYS = tuple(NUMBER_UNITS)
KEYS = (*NUMBER_KEYS, *FLAG_KEYS)


def translate(state: State) -> list[Measurand]:
    """The site sensor's measurands for a state, in a fixed order (BBA keys ignored)."""
    out: list[Measurand] = []
    for key, unit in NUMBER_UNITS.items():
        if key in state:
            value = state[key]
            out.append((key, None if value is None else float(value), unit))
    for key in FLAG_KEYS:
        if key in state:
            flag = state[key]
            out.append((key, None if flag is None else ("true" if flag else "false"), None))
    return out
