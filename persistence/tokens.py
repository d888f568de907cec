"""Bearer tokens: issued once in clear text, stored only as a SHA-256 hash.

Tokens are 256-bit random strings, so a fast hash is enough: there is nothing
to brute-force that a slow password hash would protect.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.access import Principal, Role, Scope
from domain.plausible.instants import readable_instant
from persistence import tables as t
from persistence.asyncpg_driver import AsyncpgDriver

TOKEN_PREFIX = "mgs_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    id: UUID
    token: str
    role: Role
    depot_ids: tuple[UUID, ...]


_AUTHENTICATE = select(
    t.api_tokens.c.id, t.api_tokens.c.role, t.api_tokens.c.depot_ids, t.api_tokens.c.expires_at
).where(
    t.api_tokens.c.token_hash == bindparam("token_hash"),
    t.api_tokens.c.revoked_at.is_(None),
    or_(t.api_tokens.c.expires_at.is_(None), t.api_tokens.c.expires_at > bindparam("now")),
)


_AUTHENTICATE_PG = (
    "SELECT id, role, depot_ids, expires_at FROM api_tokens WHERE token_hash = $1"
    " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)"
)


@dataclass(frozen=True)
class _Found:
    """An active token as one lookup found it."""

    principal: Principal
    expires_at: datetime | None

    def active_at(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class TokenStore:
    """Issues tokens and checks them.

    Checks of one token that arrive while its lookup is in flight share that
    lookup (a burst of screens reconnecting with one token costs one
    statement). Nothing is kept once the lookup has landed: every check is
    answered by a lookup that was running when the check arrived, so a token
    revoked before a lookup starts is refused by it, exactly as without
    sharing; expiry is compared with each check's own ``now``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._in_flight: dict[str, asyncio.Future[_Found | None]] = {}
        self.lookups = 0
        """Statements sent to check tokens (for tests and /metrics)."""

    async def issue(
        self,
        role: Role,
        depot_ids: tuple[UUID, ...],
        now: datetime,
        label: str | None = None,
        expires_at: datetime | None = None,
    ) -> IssuedToken:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = uuid4()
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(t.api_tokens).values(
                    id=token_id,
                    token_hash=hash_token(token),
                    role=role.value,
                    depot_ids=[str(d) for d in depot_ids] if depot_ids else None,
                    label=label,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return IssuedToken(token_id, token, role, depot_ids)

    async def authenticate(self, token: str, now: datetime) -> Principal | None:
        """The principal for a valid, unrevoked, unexpired token; else None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        token_hash = hash_token(token)
        flight = self._in_flight.get(token_hash)
        if flight is None:
            flight = asyncio.ensure_future(self._lookup(token_hash, now))
            self._in_flight[token_hash] = flight
            flight.add_done_callback(lambda done: self._landed(token_hash, done))
        # Shielded: one caller going away must not cancel the others' lookup.
        found = await asyncio.shield(flight)
        if found is None or not found.active_at(now):
            return None
        return found.principal

    def _landed(self, token_hash: str, flight: asyncio.Future[_Found | None]) -> None:
        if self._in_flight.get(token_hash) is flight:
            del self._in_flight[token_hash]
        if not flight.cancelled():
            flight.exception()  # retrieved: every caller that waited has raised it already

    async def _lookup(self, token_hash: str, now: datetime) -> _Found | None:
        self.lookups += 1
        async with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # One statement on every request: straight to the driver, no transaction.
                found = await AsyncpgDriver(conn, in_transaction=False).run(
                    "fetchrow", _AUTHENTICATE_PG, token_hash, now
                )
                row = (
                    None
                    if found is None
                    else (found["id"], found["role"], found["depot_ids"], found["expires_at"])
                )
            else:
                params = {"token_hash": token_hash, "now": now}
                row = (await conn.execute(_AUTHENTICATE, params)).first()
        if row is None:
            return None
        token_id, role, depot_ids, expires_at = row
        if isinstance(depot_ids, str):
            depot_ids = json.loads(depot_ids)
        scope = Scope(frozenset(UUID(d) for d in depot_ids)) if depot_ids else Scope()
        return _Found(
            Principal(token_id=token_id, role=Role(role), scope=scope),
            None if expires_at is None else readable_instant(expires_at),
        )


@dataclass(frozen=True)
class TokenInfo:
    id: UUID
    role: Role
    depot_ids: tuple[UUID, ...]
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


async def list_tokens(engine: AsyncEngine) -> list[TokenInfo]:
    """Every token, oldest first; never the secret (only its hash is stored)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t.api_tokens).order_by(t.api_tokens.c.created_at))).all()
    return [
        TokenInfo(
            r.id,
            Role(r.role),
            tuple(UUID(d) for d in r.depot_ids or []),
            r.label,
            r.created_at,
            r.expires_at,
            r.revoked_at,
        )
        for r in rows
    ]


async def revoke_token(engine: AsyncEngine, token_id: UUID, now: datetime) -> bool:
    """True when an active token was revoked; revoking twice changes nothing."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(t.api_tokens)
            .where(t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return bool(result.rowcount)


_ACTIVE_AMONG = select(t.api_tokens.c.id).where(
    t.api_tokens.c.id.in_(bindparam("ids", expanding=True)),
    t.api_tokens.c.revoked_at.is_(None),
    or_(t.api_tokens.c.expires_at.is_(None), t.api_tokens.c.expires_at > bindparam("now")),
)
ACTIVE_CHUNK = 5_000


async def active_among(
    engine: AsyncEngine, token_ids: Collection[UUID], now: datetime
) -> set[UUID]:
    """Which of these tokens are neither revoked nor expired (one query per 5,000)."""
    ids = list(token_ids)
    active: set[UUID] = set()
    async with engine.connect() as conn:
        for start in range(0, len(ids), ACTIVE_CHUNK):
            params = {"ids": ids[start : start + ACTIVE_CHUNK], "now": now}
            active.update((await conn.execute(_ACTIVE_AMONG, params)).scalars())
    return active
