"""Starting a real `microgrid serve` process on a free loopback port."""

from __future__ import annotations

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

BIN = Path(sys.executable).parent / "microgrid"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return result.stdout


@dataclass
class RunningServer:
    url: str
    ws_url: str
    process: subprocess.Popen[bytes]


@contextmanager
def serve(database_url: str, **env: str) -> Iterator[RunningServer]:
    """The server's output goes to the file named by SERVE_LOG when set (debugging)."""
    port = free_port()
    log = open(os.environ.get("SERVE_LOG", os.devnull), "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "DATABASE_URL": database_url, **env},
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"microgrid serve exited with {process.returncode}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("microgrid serve did not become ready in 60 s")
            time.sleep(0.1)
        yield RunningServer(f"{base}/graphql", f"ws://127.0.0.1:{port}/graphql", process)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not exited 10 s later."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
