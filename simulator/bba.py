"""The BBA microgrid controller, in its own keys, and its translation into
the generic sensor packet keys (DESIGN §2, "BBA microgrid controller translation")."""

from __future__ import annotations

from collections.abc import Mapping

AVAILABLE_PWR = "MCN_MGC_CMS_AVAILABLE_PWR"
FAILSAFE_PWR = "MCN_MGC_CMS_FAILSAFE_PWR"
BESS_SOC = "MCN_MGC_BESS_SOC"
DISPATCH = "MCN_MGC_IESO_DISPATCH_ON_OFF"
DER_EXPORT = "MCN_MGC_DER_EXP_ON_OFF"
BESS_POWER = "MCN_MGC_BESS_ON_OFF"
HEARTBEAT = "MCN_MGC_CMS_HEARTBEAT"
AUTO_DISPATCH = "MCN_MGC_BESS_AUTO_DISPATCH_ON_OFF"
MANUAL_CHARGE = "MCN_MGC_BESS_MAN_CHRG_ON_OFF"
MANUAL_DISCHARGE = "MCN_MGC_BESS_MAN_DISCHRG_ON_OFF"

NUMBER_KEYS = (AVAILABLE_PWR, FAILSAFE_PWR, BESS_SOC)
FLAG_KEYS = (DISPATCH, DER_EXPORT, BESS_POWER, AUTO_DISPATCH, MANUAL_CHARGE, MANUAL_DISCHARGE)
HEARTBEATS = ("ok", "connection_lost", "timeout", "error")
KEYS = (*NUMBER_KEYS, *FLAG_KEYS, HEARTBEAT)

State = Mapping[str, float | bool | str | None]
"""Controller state in BBA keys; a key that is missing is not reported, None is unavailable."""

Measurand = tuple[str, float | str | None, str | None]
"""(generic key, value, unit)"""


def bess_mode(auto: bool, charge: bool, discharge: bool) -> str:
    """The BESS truth table: (auto dispatch, manual charge, manual discharge)."""
    table = {
        (False, False, False): "idle",
        (False, False, True): "discharging",
        (False, True, False): "charging",
        (True, False, False): "automatic",
    }
    return table.get((auto, charge, discharge), "error")


def _on_off(value: object) -> str | None:
    return None if value is None else ("on" if value else "off")


def _true_false(value: object) -> str | None:
    return None if value is None else ("true" if value else "false")


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def translate(state: State) -> list[Measurand]:
    """The generic measurands for a controller state, in a fixed order.

    There is no BBA source for LIMIT_PEAK_SHAVING: it is never produced, and
    never inferred from the dispatch flag."""
    out: list[Measurand] = []
    if AVAILABLE_PWR in state:
        out.append(("AVAILABLE_CHARGING_CAPACITY", _number(state[AVAILABLE_PWR]), "W"))
    if FAILSAFE_PWR in state:
        out.append(("FAIL_SAFE_CAPACITY", _number(state[FAILSAFE_PWR]), "W"))
    if BESS_SOC in state:
        out.append(("SOC", _number(state[BESS_SOC]), "%"))
    if DISPATCH in state:
        out.append(("DISPATCH_STATE", _on_off(state[DISPATCH]), None))
    if DER_EXPORT in state:
        out.append(("LIMIT_DER_EXPORT", _true_false(state[DER_EXPORT]), None))
    if BESS_POWER in state:
        out.append(("DEVICE_POWER_STATE", _on_off(state[BESS_POWER]), None))
    if HEARTBEAT in state:
        heartbeat = state[HEARTBEAT]
        out.append(("HEARTBEAT_STATUS", None if heartbeat is None else str(heartbeat), None))
    flags = (AUTO_DISPATCH, MANUAL_CHARGE, MANUAL_DISCHARGE)
    if any(k in state for k in flags):
        values = [state.get(k, False) for k in flags]
        mode = None if any(v is None for v in values) else bess_mode(*(bool(v) for v in values))
        out.append(("BESS_OPERATIONAL_MODE", mode, None))
    return out
