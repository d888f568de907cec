"""A careless operator and a hostile client against real `microgrid serve`
processes: what issue 17 (deploys, reconnect storms) and issue 18 (settings
for Sentinel and multi-host PostgreSQL) added, from outside."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from bench.serving import BIN

pytestmark = pytest.mark.e2e


def _refused_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_all(cases: dict[str, dict[str, str]], tmp_path: Path) -> dict[str, tuple[int, str]]:
    """Each case's (exit code, standard error) of ``microgrid serve`` run with
    its environment; side by side, as each pays the CLI's start-up."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'ok.db'}"
    processes = {
        name: subprocess.Popen(
            [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(_refused_port())],
            env={**os.environ, "DATABASE_URL": database, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, env in cases.items()
    }
    outcomes = {}
    for name, process in processes.items():
        try:
            _out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _out, err = process.communicate()
            err = f"still running after 60 s: {err}"
        outcomes[name] = (process.returncode, err)
    return outcomes


BAD_SETTINGS = {
    "SHUTDOWN_GRACE_SECONDS": {"SHUTDOWN_GRACE_SECONDS": "soon"},
    "SHUTDOWN_GRACE_SECONDS ": {"SHUTDOWN_GRACE_SECONDS": "0"},
    "SHUTDOWN_DRAIN_SECONDS": {"SHUTDOWN_DRAIN_SECONDS": "nan"},
    "SHUTDOWN_DRAIN_SECONDS ": {"SHUTDOWN_DRAIN_SECONDS": "301"},
    "PORT": {"PORT": "eighty"},
    "REDIS_URL": {"REDIS_URL": "redis+sentinel://127.0.0.1:abc/mymaster"},
    "DATABASE_URL": {"DATABASE_URL": "not a url"},
    "DATABASE_URL ": {
        "DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:5432,127.0.0.1:x/db"
        "?target_session_attrs=read-write"
    },
    "DATABASE_URL  ": {
        "DATABASE_URL": f"postgresql+asyncpg://u:secret-pw@/db?host=127.0.0.1:{_refused_port()}"
        f"&host=127.0.0.1:{_refused_port()}&target_session_attrs=read-write"
    },
    "DATABASE_URL   ": {"DATABASE_URL": "mysql://u@127.0.0.1/db"},
}


def test_serve_with_an_unusable_setting_says_which_in_one_line_and_exits_2(
    tmp_path: Path,
) -> None:
    outcomes = _start_all(BAD_SETTINGS, tmp_path)
    for variable, (code, err) in outcomes.items():
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, f"{BAD_SETTINGS[variable]}: exit {code}, {err[-800:]}"
        assert len(lines) == 1, f"{BAD_SETTINGS[variable]}: {err[-800:]}"
        assert lines[0].startswith(variable.strip()), lines[0]
        assert "secret-pw" not in err
