"""A real `microgrid serve` process on a free loopback port, for the benchmarks
(bench/ never imports tests/: DESIGN §1)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent / "microgrid"
HOST = "127.0.0.1"


_HANDED_OUT: set[int] = set()
"""Ports of BENCH_PORTS given out already (a server may not have bound yet)."""


def free_port() -> int:
    """A free loopback port: from BENCH_PORTS ("first-last") when set, as a
    shared machine gives each user a range, else any."""
    first, _, last = os.environ.get("BENCH_PORTS", "0-0").partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            if port or not first.strip("0"):
                if port:
                    _HANDED_OUT.add(port)
                return int(s.getsockname()[1])
    if _HANDED_OUT:
        _HANDED_OUT.clear()
        return free_port()
    raise OSError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def cli(database_url: str, *args: str) -> str:
    """Runs ``microgrid ARGS`` against ``database_url``; its standard output."""
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return result.stdout


async def cli_together(database_url: str, *commands: list[str]) -> list[str]:
    """The outputs of ``microgrid`` commands run side by side: each pays the
    CLI's start-up (bench/README.md, "Sizes and clients"), which one after
    another would add up."""
    env = {**os.environ, "DATABASE_URL": database_url}
    processes = [
        await asyncio.create_subprocess_exec(
            str(BIN), *command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for command in commands
    ]
    outputs = []
    for command, process in zip(commands, processes, strict=True):
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"microgrid {' '.join(command)} failed: {err.decode()}")
        outputs.append(out.decode())
    return outputs


@dataclass
class RunningServer:
    port: int
    base: str
    url: str
    """The GraphQL endpoint (HTTP)."""
    ws_url: str
    process: subprocess.Popen[bytes]


@contextmanager
def serve(
    database_url: str, log: Path | None = None, binary: Path = BIN, **env: str
) -> Iterator[RunningServer]:
    """Serves until the block ends. Output goes to ``log``, else to the file
    named by SERVE_LOG, else nowhere. ``binary``: another checkout's
    ``microgrid`` (a same-run baseline of older code)."""
    port = free_port()
    target = log or Path(os.environ.get("SERVE_LOG", os.devnull))
    with target.open("ab") as out:
        process = subprocess.Popen(
            [str(binary), "serve", "--host", HOST, "--port", str(port)],
            # No load balancer to drain from: stop at once unless told otherwise.
            env={"SHUTDOWN_DRAIN_SECONDS": "0", **os.environ, "DATABASE_URL": database_url, **env},
            stdout=out,
            stderr=out,
        )
    base = f"http://{HOST}:{port}"
    try:
        _wait_ready(base, process)
        yield RunningServer(port, base, f"{base}/graphql", f"ws://{HOST}:{port}/graphql", process)
    finally:
        stop(process)


def start_baseline(
    app: str,
    port: int,
    *options: str,
    env: dict[str, str] | None = None,
    stderr: int | None = None,
) -> subprocess.Popen[bytes]:
    """A bench baseline app (``bench.raw_ingest:app``, ...) under uvicorn on
    ``port``; the caller waits for it and stops it with :func:`stop`."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", app, "--port", str(port)),
            *("--log-level", "warning", "--no-access-log", *options),
        ],
        cwd=ROOT,
        env=env,
        stderr=stderr,
    )


def _wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"microgrid serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"microgrid serve did not become ready in {seconds:.0f} s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
