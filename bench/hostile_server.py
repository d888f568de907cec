"""The server the hostile clients attack: a real `microgrid serve` over a
fresh SQLite file or PostgreSQL database, its RSS, and the exceptions its log
names."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import serving

ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Z]\w*)(?::|$)")


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def exceptions(self) -> Counter[str]:
        """The exception named at the end of each traceback in the server's log
        (a JSON line's ``exception.type``, or a text traceback's last line)."""
        found: Counter[str] = Counter()
        previous = ""
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    kind = json.loads(line).get("exception.type")
                    if isinstance(kind, str):
                        found[kind.rpartition(".")[2]] += 1
                    continue
            named = EXCEPTION_LINE.match(line)
            if previous.startswith(" ") and named and not named.group(1).isupper():
                found[named.group(1)] += 1
            previous = line
        return found


@contextlib.contextmanager
def serve(database_url: str, log: Path, env: dict[str, str]) -> Iterator[Server]:
    with serving.serve(database_url, log, **env) as running:
        yield Server(running.port, running.process, log)


@contextlib.contextmanager
def database(store: str) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty database, removed afterwards."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="mgs_hostile_") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/hostile.db"
        return
    import asyncpg

    name = f"mgs_hostile_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + (
            "/" + name
        )
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_reachable() -> bool:
    try:
        import asyncpg

        async def ping() -> None:
            conn = await asyncpg.connect(ADMIN_DSN, timeout=3)
            await conn.close()

        asyncio.run(ping())
        return True
    except Exception:
        return False
