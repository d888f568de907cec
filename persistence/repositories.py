"""Repositories: rows in and out of the domain model, nothing more."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.access import EVERYWHERE, Scope
from domain.model import (
    BessOperationalMode,
    Circuit,
    Depot,
    Device,
    Gateway,
    GridConnection,
    Microgrid,
    PowerSource,
    PowerSourceKind,
)
from persistence import tables as t

GRID_CONNECTION = "GRID_CONNECTION"
IN_CHUNK = 5_000
"""Largest IN (...) list sent at once; both backends cap bound parameters."""


def in_scope(depot_column: Any, scope: Scope) -> ColumnElement[bool]:
    """The scope as part of a lookup by id: an id outside the token's depots
    fetches zero rows, exactly like a missing one (one code path, the same work)."""
    if scope.depot_ids is None:
        return true()
    return depot_column.in_(sorted(scope.depot_ids))


def _chunks(ids: Collection[UUID], size: int = IN_CHUNK) -> list[list[UUID]]:
    items = list(dict.fromkeys(ids))
    return [items[i : i + size] for i in range(0, len(items), size)]


class _Repository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    @property
    def _dialect(self) -> str:
        return self._conn.dialect.name

    async def _rows(self, statement: Any) -> Sequence[Any]:
        return (await self._conn.execute(statement)).all()


def _depot(row: Any) -> Depot:
    return Depot(**row._mapping)


def _circuit(row: Any) -> Circuit:
    return Circuit(**row._mapping)


class SqlDepots(_Repository):
    async def add(self, depot: Depot) -> None:
        await self._conn.execute(
            insert(t.depots).values(id=depot.id, name=depot.name, created_at=depot.created_at)
        )

    async def get(self, depot_id: UUID) -> Depot | None:
        row = (await self._conn.execute(select(t.depots).where(t.depots.c.id == depot_id))).first()
        return _depot(row) if row else None

    async def get_many(self, depot_ids: Collection[UUID]) -> dict[UUID, Depot]:
        found: dict[UUID, Depot] = {}
        for chunk in _chunks(depot_ids):
            for row in await self._rows(select(t.depots).where(t.depots.c.id.in_(chunk))):
                found[row.id] = _depot(row)
        return found

    async def lock(self, depot_id: UUID) -> Depot | None:
        statement = select(t.depots).where(t.depots.c.id == depot_id).with_for_update()
        row = (await self._conn.execute(statement)).first()
        return _depot(row) if row else None

    async def page(self, scope: Scope, first: int, after: tuple[str, UUID] | None) -> list[Depot]:
        statement = select(t.depots).order_by(t.depots.c.name, t.depots.c.id).limit(first)
        if scope.depot_ids is not None:
            statement = statement.where(t.depots.c.id.in_(list(scope.depot_ids)))
        if after is not None:
            name, depot_id = after
            statement = statement.where(
                or_(t.depots.c.name > name, and_(t.depots.c.name == name, t.depots.c.id > depot_id))
            )
        return [_depot(r) for r in await self._rows(statement)]

    async def count(self) -> int:
        result = await self._conn.execute(select(func.count()).select_from(t.depots))
        return int(result.scalar_one())

    async def lock_batch(self, after: UUID | None, limit: int) -> list[UUID]:
        statement = select(t.depots.c.id).order_by(t.depots.c.id).limit(limit).with_for_update()
        if after is not None:
            statement = statement.where(t.depots.c.id > after)
        return [r.id for r in await self._rows(statement)]


_CAPACITY_FIELDS = (
    "available_capacity_w",
    "fail_safe_capacity_w",
    "heartbeat_status",
    "capacity_observed_at",
    "capacity_updated_at",
)
_POWER_SOURCE_STATE_FIELDS = (
    "power_state",
    "operational_mode",
    "soc_percent",
    "load_w",
    "updated_at",
)


def capacity_values(circuit: Circuit) -> dict[str, Any]:
    """What a capacity report owns of a circuit, by column."""
    return {f: getattr(circuit, f) for f in _CAPACITY_FIELDS}


def power_source_state_values(source: PowerSource) -> dict[str, Any]:
    """What sensor packets own of a power source, by column."""
    values = {f: getattr(source, f) for f in _POWER_SOURCE_STATE_FIELDS}
    if source.operational_mode is not None:
        values["operational_mode"] = source.operational_mode.value
    return values


def _update_by_id(table: Any, fields: Sequence[str]) -> Any:
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({f: bindparam(f) for f in fields})
    )


_RECORD_CAPACITY = _update_by_id(t.circuits, _CAPACITY_FIELDS)
_RECORD_POWER_SOURCE_STATE = _update_by_id(t.power_sources, _POWER_SOURCE_STATE_FIELDS)


class SqlCircuits(_Repository):
    async def record_capacity_reports(self, circuits: Sequence[Circuit]) -> None:
        if circuits:
            await self._conn.execute(
                _RECORD_CAPACITY, [{"row_id": c.id, **capacity_values(c)} for c in circuits]
            )

    async def add(self, circuit: Circuit) -> None:
        await self._conn.execute(insert(t.circuits).values(**asdict(circuit)))

    async def update(self, circuit: Circuit) -> None:
        values = asdict(circuit)
        del values["id"], values["depot_id"], values["created_at"]
        await self._conn.execute(
            update(t.circuits).where(t.circuits.c.id == circuit.id).values(**values)
        )

    async def delete(self, circuit_id: UUID) -> None:
        await self._conn.execute(delete(t.circuits).where(t.circuits.c.id == circuit_id))

    async def get(self, circuit_id: UUID, scope: Scope = EVERYWHERE) -> Circuit | None:
        statement = select(t.circuits).where(
            t.circuits.c.id == circuit_id, in_scope(t.circuits.c.depot_id, scope)
        )
        row = (await self._conn.execute(statement)).first()
        return _circuit(row) if row else None

    async def for_depot(self, depot_id: UUID) -> list[Circuit]:
        rows = await self._rows(select(t.circuits).where(t.circuits.c.depot_id == depot_id))
        return [_circuit(r) for r in rows]

    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]:
        return await self._grouped(depot_ids, top_level_only=False)

    async def top_level_for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Circuit]]:
        return await self._grouped(depot_ids, top_level_only=True)

    async def _grouped(
        self, depot_ids: Collection[UUID], top_level_only: bool
    ) -> dict[UUID, list[Circuit]]:
        grouped: dict[UUID, list[Circuit]] = {}
        for chunk in _chunks(depot_ids):
            statement = select(t.circuits).where(t.circuits.c.depot_id.in_(chunk))
            if top_level_only:
                statement = statement.where(t.circuits.c.parent_id.is_(None))
            for row in await self._rows(statement):
                grouped.setdefault(row.depot_id, []).append(_circuit(row))
        return grouped


_DEPOT_OF = select(t.microgrids.c.depot_id).where(
    t.microgrids.c.id == bindparam("microgrid_id"), t.ACTIVE_MICROGRID
)
_BUMP_REVISION = (
    update(t.microgrids)
    .where(t.microgrids.c.id == bindparam("microgrid_id"))
    .values(revision=t.microgrids.c.revision + 1)
    .returning(t.microgrids.c.revision)
)


class SqlMicrogrids(_Repository):
    async def get(self, microgrid_id: UUID, scope: Scope = EVERYWHERE) -> Microgrid | None:
        found = await self._load(
            and_(t.microgrids.c.id == microgrid_id, in_scope(t.microgrids.c.depot_id, scope))
        )
        return found[0] if found else None

    async def depot_of(self, microgrid_id: UUID, scope: Scope = EVERYWHERE) -> UUID | None:
        statement = _DEPOT_OF.where(in_scope(t.microgrids.c.depot_id, scope))
        result = await self._conn.execute(statement, {"microgrid_id": microgrid_id})
        depot_id: UUID | None = result.scalar()
        return depot_id

    async def for_depot(self, depot_id: UUID) -> Microgrid | None:
        found = await self._load(t.microgrids.c.depot_id == depot_id)
        return found[0] if found else None

    async def for_depots(self, depot_ids: Collection[UUID]) -> dict[UUID, Microgrid]:
        found: dict[UUID, Microgrid] = {}
        for chunk in _chunks(depot_ids):
            for microgrid in await self._load(t.microgrids.c.depot_id.in_(chunk)):
                found[microgrid.depot_id] = microgrid
        return found

    async def _load(self, condition: Any) -> list[Microgrid]:
        rows = await self._rows(select(t.microgrids).where(condition, t.ACTIVE_MICROGRID))
        microgrids = {
            r.id: Microgrid(
                id=r.id,
                depot_id=r.depot_id,
                version=r.version,
                created_at=r.created_at,
                updated_at=r.updated_at,
                revision=r.revision,
            )
            for r in rows
        }
        for chunk in _chunks(microgrids):
            nodes = await self._rows(
                select(t.microgrid_nodes)
                .where(t.microgrid_nodes.c.microgrid_id.in_(chunk))
                .order_by(t.microgrid_nodes.c.microgrid_id, t.microgrid_nodes.c.position)
            )
            for n in nodes:
                microgrids[n.microgrid_id].grid_connections.append(
                    GridConnection(
                        id=n.id,
                        microgrid_id=n.microgrid_id,
                        circuit_id=n.circuit_id,
                        name=n.name,
                        position=n.position,
                    )
                )
        return list(microgrids.values())

    async def add_if_absent(self, microgrids: list[Microgrid]) -> set[UUID]:
        if not microgrids:
            return set()
        dialect_insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(t.microgrids)
            .on_conflict_do_nothing(index_elements=["depot_id"], index_where=t.ACTIVE_MICROGRID)
            .returning(t.microgrids.c.id)
        )
        rows = [
            {
                "id": m.id,
                "depot_id": m.depot_id,
                "version": m.version,
                "created_at": m.created_at,
                "updated_at": m.updated_at,
            }
            for m in microgrids
        ]
        inserted: set[UUID] = set()
        for start in range(0, len(rows), 1000):
            result = await self._conn.execute(statement, rows[start : start + 1000])
            inserted.update(r.id for r in result.all())
        nodes = [n for m in microgrids if m.id in inserted for n in m.grid_connections]
        await self._insert_nodes(nodes)
        return inserted

    async def save(self, microgrid: Microgrid) -> None:
        result = await self._conn.execute(
            update(t.microgrids)
            .where(t.microgrids.c.id == microgrid.id)
            .values(
                version=microgrid.version,
                updated_at=microgrid.updated_at,
                revision=t.microgrids.c.revision + 1,
            )
            .returning(t.microgrids.c.revision)
        )
        microgrid.revision = int(result.scalar_one())
        await self._conn.execute(
            delete(t.microgrid_nodes).where(t.microgrid_nodes.c.microgrid_id == microgrid.id)
        )
        await self._insert_nodes(microgrid.grid_connections)

    async def bump_revision(self, microgrid_id: UUID) -> int:
        result = await self._conn.execute(_BUMP_REVISION, {"microgrid_id": microgrid_id})
        return int(result.scalar_one())

    async def bump_revisions(
        self, microgrid_ids: Collection[UUID], depot_ids: Collection[UUID]
    ) -> dict[UUID, tuple[UUID, int]]:
        c = t.microgrids.c
        statement = (
            update(t.microgrids)
            .where(
                or_(
                    c.id.in_(list(microgrid_ids)),
                    and_(c.depot_id.in_(list(depot_ids)), t.ACTIVE_MICROGRID),
                )
            )
            .values(revision=c.revision + 1)
            .returning(c.id, c.depot_id, c.revision)
        )
        rows = (await self._conn.execute(statement)).all()
        return {r.id: (r.depot_id, int(r.revision)) for r in rows}

    async def _insert_nodes(self, nodes: list[GridConnection]) -> None:
        if nodes:
            await self._conn.execute(
                insert(t.microgrid_nodes),
                [
                    {
                        "id": n.id,
                        "microgrid_id": n.microgrid_id,
                        "node_type": GRID_CONNECTION,
                        "circuit_id": n.circuit_id,
                        "name": n.name,
                        "position": n.position,
                    }
                    for n in nodes
                ],
            )


class SqlEquipment(_Repository):
    async def record_power_source_states(self, power_sources: Sequence[PowerSource]) -> None:
        if power_sources:
            await self._conn.execute(
                _RECORD_POWER_SOURCE_STATE,
                [{"row_id": p.id, **power_source_state_values(p)} for p in power_sources],
            )

    async def add_power_source(self, power_source: PowerSource) -> None:
        await self._conn.execute(insert(t.power_sources).values(**asdict(power_source)))

    async def add_gateway(self, gateway: Gateway) -> None:
        await self._conn.execute(insert(t.gateways).values(**asdict(gateway)))

    async def add_device(self, device: Device) -> None:
        await self._conn.execute(insert(t.devices).values(**asdict(device)))

    async def gateway(self, gateway_id: UUID, scope: Scope = EVERYWHERE) -> Gateway | None:
        found = await self.gateways_where(
            and_(t.gateways.c.id == gateway_id, in_scope(t.gateways.c.depot_id, scope))
        )
        return found[0] if found else None

    async def device(self, device_id: UUID, scope: Scope = EVERYWHERE) -> Device | None:
        found = await self.devices_where(
            and_(t.devices.c.id == device_id, in_scope(t.devices.c.depot_id, scope))
        )
        return found[0] if found else None

    async def devices_by_id(
        self, device_ids: Collection[UUID], scope: Scope = EVERYWHERE
    ) -> dict[UUID, Device]:
        found: dict[UUID, Device] = {}
        visible = in_scope(t.devices.c.depot_id, scope)
        for chunk in _chunks(device_ids):
            rows = await self.devices_where(and_(t.devices.c.id.in_(chunk), visible))
            found.update((d.id, d) for d in rows)
        return found

    async def power_sources(self, depot_ids: Collection[UUID]) -> dict[UUID, list[PowerSource]]:
        rows: list[PowerSource] = []
        for chunk in _chunks(depot_ids):
            statement = select(t.power_sources).where(t.power_sources.c.depot_id.in_(chunk))
            rows += [_power_source(r) for r in await self._rows(statement)]
        return _by_depot(rows)

    async def update_power_source(self, power_source: PowerSource) -> None:
        values = asdict(power_source)
        del values["id"], values["depot_id"], values["created_at"]
        await self._conn.execute(
            update(t.power_sources).where(t.power_sources.c.id == power_source.id).values(**values)
        )

    async def gateways(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Gateway]]:
        rows: list[Gateway] = []
        for chunk in _chunks(depot_ids):
            rows += await self.gateways_where(t.gateways.c.depot_id.in_(chunk))
        return _by_depot(rows)

    async def devices(self, depot_ids: Collection[UUID]) -> dict[UUID, list[Device]]:
        rows: list[Device] = []
        for chunk in _chunks(depot_ids):
            rows += await self.devices_where(t.devices.c.depot_id.in_(chunk))
        return _by_depot(rows)

    async def gateways_where(self, condition: Any) -> list[Gateway]:
        rows = await self._rows(select(t.gateways).where(condition))
        return [Gateway(**r._mapping) for r in rows]

    async def devices_where(self, condition: Any) -> list[Device]:
        rows = await self._rows(select(t.devices).where(condition))
        return [Device(**r._mapping) for r in rows]


def _power_source(row: Any) -> PowerSource:
    return power_source_from_values(dict(row._mapping))


def power_source_from_values(values: dict[str, Any]) -> PowerSource:
    """A power source from its column values (a SQLAlchemy or asyncpg row's)."""
    values["kind"] = PowerSourceKind(values["kind"])
    if values["operational_mode"] is not None:
        values["operational_mode"] = BessOperationalMode(values["operational_mode"])
    return PowerSource(**values)


_Owned = TypeVar("_Owned", PowerSource, Gateway, Device)


def _by_depot(items: list[_Owned]) -> dict[UUID, list[_Owned]]:
    grouped: dict[UUID, list[_Owned]] = {}
    for item in items:
        grouped.setdefault(item.depot_id, []).append(item)
    return grouped
