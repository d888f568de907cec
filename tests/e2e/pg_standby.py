"""A private PostgreSQL primary with a streaming hot standby (made with
``pg_basebackup -R``), on free loopback ports in a temporary folder, run as the
``postgres`` OS user (initdb refuses root): for tests that stop the primary
and promote the standby.

The primary commits synchronously to the standby (``synchronous_standby_names``
on the primary's command line, so the base backup does not copy it and the
promoted standby waits for no standby of its own): a commit a client saw
succeed is on the standby when the primary dies. That is PostgreSQL's own
guarantee; with asynchronous replication the last acknowledged commits can be
lost in a failover, whatever the service does."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from tests.e2e.server import free_port
from tests.support import services


def _binaries() -> Path:
    """The newest PostgreSQL's server binaries, or a skip (a failure under
    REQUIRE_SERVICES=1) saying what is missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not found or not (Path(found[-1]) / "pg_basebackup").exists():
        services.unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)",
            FileNotFoundError("/usr/lib/postgresql/*/bin"),
        )
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            services.unavailable("runuser (to run PostgreSQL as `postgres`)", FileNotFoundError())
        try:
            pwd.getpwnam("postgres")
        except KeyError as error:
            services.unavailable("the `postgres` OS user (initdb refuses root)", error)
    return Path(found[-1])


class Node:
    """One PostgreSQL server: its data folder, its port and pg_ctl."""

    def __init__(self, bin: Path, data: Path, options: str = "") -> None:
        self.bin = bin
        self.data = data
        self.port = free_port()
        self.options = options

    def run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        # no pipes: a started postmaster would inherit them and keep them open
        subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
        )

    def start(self) -> None:
        """Returns once the server accepts connections (``pg_ctl -w``)."""
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"{self.options}"
        )
        log = str(self.data.parent / f"{self.data.name}.log")
        self.run("pg_ctl", "-D", str(self.data), "-w", "-l", log, "-o", options, "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: the way a crash looks to clients (no clean shutdown)."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    def promote(self) -> None:
        """Returns once the standby has left recovery (``pg_ctl promote -w``)."""
        self.run("pg_ctl", "-D", str(self.data), "-w", "promote")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


class StandbyPair:
    """A primary and its synchronous streaming standby."""

    def __init__(self) -> None:
        bin = _binaries()
        # pytest's tmp folders are private to root; the servers run as postgres
        self.workdir = Path(tempfile.mkdtemp(prefix="mgs-hh-pg-", dir="/tmp"))
        self.workdir.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self.primary = Node(bin, self.workdir / "primary", "-c synchronous_standby_names='*'")
        self.standby = Node(bin, self.workdir / "standby", "-c hot_standby=on")

    def start(self) -> None:
        """Primary up, standby cloned from it and streaming synchronously."""
        primary = self.primary
        primary.run("initdb", "-D", str(primary.data), "-A", "trust", "-U", "postgres", "--no-sync")
        primary.start()
        primary.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(self.standby.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
        )
        self.standby.start()
        asyncio.run(self._until_synchronous())

    async def _until_synchronous(self, seconds: float = 30) -> None:
        """Polls the primary's pg_stat_replication (nothing announces it) until
        the standby streams as the synchronous one."""
        deadline = time.monotonic() + seconds
        conn = await asyncpg.connect(self.primary.dsn())
        try:
            while time.monotonic() < deadline:
                state = await conn.fetchval(
                    "SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'"
                )
                if state == "sync":
                    return
                await asyncio.sleep(0.05)
        finally:
            await conn.close()
        raise TimeoutError("the standby did not start streaming")

    def close(self) -> None:
        self.standby.stop()
        self.primary.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, database: str) -> str:
        """The service's multi-host DATABASE_URL: both servers, read-write only."""
        hosts = "&".join(f"host={n.host}" for n in (self.primary, self.standby))
        return f"postgresql+asyncpg://postgres@/{database}?{hosts}&target_session_attrs=read-write"
