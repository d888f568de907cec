"""A private Redis Sentinel set on free loopback ports: a master, a replica and
three sentinels, with failure detection tuned down so a failover completes
in seconds. For fault tests that kill the master."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.e2e.server import free_port
from tests.support import services

SERVICE = "mymaster"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000


def sentinel_command() -> list[str]:
    """Debian's ``redis-sentinel``, else ``redis-server --sentinel`` (the same
    binary in sentinel mode); skips (fails under REQUIRE_SERVICES=1) without either."""
    if sentinel := shutil.which("redis-sentinel"):
        return [sentinel]
    if server := shutil.which("redis-server"):
        return [server, "--sentinel"]
    services.unavailable(
        "redis-sentinel (or redis-server --sentinel)", FileNotFoundError("redis-sentinel")
    )
    raise AssertionError("unreachable")


def _wait_for(what: str, ready: Callable[[], bool], seconds: float = 20) -> None:
    """Polls ``ready`` until true (nothing to subscribe to while an engine starts)."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.05)


class SentinelSet:
    def __init__(self, workdir: Path) -> None:
        sentinel = sentinel_command()
        server = shutil.which("redis-server")
        if server is None:
            services.unavailable("redis-server binary", FileNotFoundError("redis-server"))
        self.server = str(server)
        self.sentinel = sentinel
        self.workdir = workdir
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}"

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)

    def start(self) -> None:
        self._server(self.master_port)
        self._server(self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        replica = self.client(self.replica_port)
        _wait_for(
            "the replica's link to the master",
            lambda: replica.info("replication").get("master_link_status") == "up",
        )
        for port in self.sentinel_ports:
            self._sentinel(port)
        for port in self.sentinel_ports:
            sentinel = self.client(port)
            _wait_for(
                f"sentinel {port} knowing the replica and the other sentinels",
                lambda s=sentinel: _knows_everyone(s),
            )

    def master_address(self) -> tuple[str, int]:
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError):
                host, master = self.client(port).sentinel_get_master_addr_by_name(SERVICE)
                return host.decode() if isinstance(host, bytes) else str(host), int(master)
        raise AssertionError("no sentinel answers")

    def kill(self, port: int) -> None:
        """SIGKILL, as a crash: no shutdown, no last words to the replicas."""
        process = self.processes.pop(port)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def _server(self, port: int, *extra: str) -> None:
        directory = self.workdir / f"redis-{port}"
        directory.mkdir()
        self._spawn(
            port,
            [
                self.server,
                *("--port", str(port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(directory)),
                *extra,
            ],
        )

    def _sentinel(self, port: int) -> None:
        # a sentinel rewrites its own configuration file: one writable file each
        config = self.workdir / f"sentinel-{port}.conf"
        config.write_text(
            "\n".join(
                [
                    f"port {port}",
                    "bind 127.0.0.1",
                    f"dir {self.workdir}",
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2",
                    f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {SERVICE} 1",
                    "",
                ]
            )
        )
        command = [self.sentinel[0], str(config), *self.sentinel[1:]]
        self._spawn(port, command)

    def _spawn(self, port: int, command: list[str]) -> None:
        log = (self.workdir / f"{port}.log").open("ab")
        with log:
            self.processes[port] = subprocess.Popen(command, stdout=log, stderr=log)
        client = self.client(port)
        _wait_for(f"{Path(command[0]).name} on port {port}", lambda: bool(client.ping()))


def _knows_everyone(sentinel: redis.Redis) -> bool:
    state = sentinel.sentinel_master(SERVICE)
    return int(state["num-slaves"]) >= 1 and int(state["num-other-sentinels"]) >= 2
