"""Sensor actions: what a device's packets do, one module per action type.

Each action module is named after its ``SensorActionType`` member in lower
case and defines ``ACTION``, an :class:`~domain.sensor_actions.kind.ActionKind`
that says which measurands it reads from a packet and decides, from the packet
and the facts it reads, one outcome and the writes that go with it. The use
case (``domain/packet_ingest.py``) reads and writes through the unit of work;
the actions never touch it. ``registry.ACTIONS`` finds the module of every
enum member, so a new action is its enum member plus its module, and a member
without a module (or a module without a member) fails at import and in the
tests."""
