"""Every sensor action type with its module, in the enum's order (the order
a packet's actions run in).

The module of a type is named after it (``UPDATE_CIRCUIT_CAPACITY`` ->
``update_circuit_capacity``) and defines ``ACTION``; a type without one fails
here, at import."""

from __future__ import annotations

from importlib import import_module

from domain.model import SensorActionType
from domain.sensor_actions.kind import ActionKind


def module_name(action_type: SensorActionType) -> str:
    return f"{__package__}.{action_type.value.lower()}"


def _load(action_type: SensorActionType) -> ActionKind:
    try:
        module = import_module(module_name(action_type))
    except ModuleNotFoundError as missing:
        if missing.name != module_name(action_type):
            raise
        raise ImportError(
            f"{action_type} has no action module: write {module_name(action_type)} "
            "defining ACTION (see domain/sensor_actions/__init__.py)"
        ) from missing
    action = getattr(module, "ACTION", None)
    if not isinstance(action, ActionKind) or action.type is not action_type:
        raise TypeError(f"{module_name(action_type)}.ACTION must be the {action_type} ActionKind")
    return action


ACTIONS: dict[SensorActionType, ActionKind] = {t: _load(t) for t in SensorActionType}
