"""A private PostgreSQL cluster on a free port, for tests that restart the
server without disturbing the machine's shared one."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.e2e.server import free_port
from tests.support import services


class PrivatePostgres:
    def __init__(self, workdir: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not binaries or not shutil.which("runuser"):
            services.unavailable(
                "PostgreSQL server binaries (initdb, pg_ctl)",
                FileNotFoundError("/usr/lib/postgresql/*/bin"),
            )
        self.bin = Path(binaries[-1])
        # pytest's tmp folders are private to root; the server runs as postgres
        self.workdir = Path(tempfile.mkdtemp(prefix="mgs-pg-", dir="/tmp"))
        self.data = self.workdir / "pgdata"
        self.port = free_port()

    def _as_postgres(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        # no pipes: a started postmaster would inherit them and keep them open
        subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
        )

    def init(self) -> None:
        self.workdir.chmod(0o755)
        self.data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        self._as_postgres(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        )
        self.start()

    def start(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.data / "log"),
            "-o",
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def restart(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-m",
            "fast",
            "-l",
            str(self.data / "log"),
            "restart",
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop"
            )
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
