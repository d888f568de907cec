"""A private Redis Cluster on loopback ports, for the cluster benchmark and the
cluster fault test (bench/ never imports tests/; the tests use this)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
BUS_OFFSET = 10_000
"""Redis Cluster's bus port is the client port plus this."""


def binaries() -> tuple[str, str] | None:
    """(redis-server, redis-cli), or ``None`` when either is missing."""
    server, client = shutil.which("redis-server"), shutil.which("redis-cli")
    return (server, client) if server and client else None


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` client ports whose bus ports are free too: from CLUSTER_PORTS
    ("first-last") when set, as a shared machine gives each user a range."""
    first, _, last = os.environ.get("CLUSTER_PORTS", "9500-9599").partition("-")
    found = [
        port
        for port in range(int(first), int(last or first) + 1)
        if _free(port) and _free(port + BUS_OFFSET)
    ]
    if len(found) < count:
        raise OSError(f"fewer than {count} free cluster ports in {first}-{last}")
    return found[:count]


@dataclass
class RedisClusterNodes:
    """``masters`` primaries, each with ``replicas`` replicas, in ``workdir``."""

    workdir: Path
    masters: int = 3
    replicas: int = 0
    node_timeout_ms: int = 1000
    ports: list[int] = field(default_factory=list)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{HOST}:{p}" for p in self.ports[: self.masters])

    def start(self) -> None:
        found = binaries()
        if found is None:
            raise FileNotFoundError("redis-server and redis-cli")
        self.ports = free_ports(self.masters * (1 + self.replicas))
        for port in self.ports:
            self.start_node(port)
        subprocess.run(
            [
                found[1],
                "--cluster",
                "create",
                *(f"{HOST}:{p}" for p in self.ports),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        self.wait_until_healthy()

    def start_node(self, port: int) -> None:
        found = binaries()
        assert found is not None
        self.processes[port] = subprocess.Popen(
            [
                found[0],
                *("--port", str(port), "--bind", HOST),
                *("--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf"),
                *("--cluster-node-timeout", str(self.node_timeout_ms)),
                # a replica promotes itself however long its link was down
                *("--cluster-replica-validity-factor", "0"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self._answers(port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on {port} did not start")
            time.sleep(0.05)

    def _answers(self, port: int) -> bool:
        try:
            return self.cli(port, "ping").strip() == "PONG"
        except (subprocess.SubprocessError, OSError):
            return False

    def cli(self, port: int, *args: str) -> str:
        found = binaries()
        assert found is not None
        return subprocess.run(
            [found[1], "-h", HOST, "-p", str(port), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout

    def primaries(self, via: int | None = None) -> dict[int, list[tuple[int, int]]]:
        """Each live primary's port and its slot ranges, as a node sees them."""
        port = via or next(p for p in self.ports if p in self.processes)
        owners: dict[int, list[tuple[int, int]]] = {}
        for line in self.cli(port, "cluster", "nodes").splitlines():
            parts = line.split()
            if "master" not in parts[2] or "fail" in parts[2]:
                continue
            node_port = int(parts[1].split("@")[0].rsplit(":", 1)[1])
            ranges = [tuple(int(x) for x in r.split("-")) for r in parts[8:] if "[" not in r]
            owners[node_port] = [(r[0], r[-1]) for r in ranges]
        return owners

    def healthy(self) -> bool:
        """Every live node says ok, every slot has a live primary and every
        live replica is in sync with its primary."""
        live = [p for p in self.ports if p in self.processes]
        try:
            primaries = self.primaries()
            return (
                all("cluster_state:ok" in self.cli(p, "cluster", "info") for p in live)
                and sum(hi - lo + 1 for r in primaries.values() for lo, hi in r) == 16384
                and all(
                    "master_link_status:up" in self.cli(p, "info", "replication")
                    for p in live
                    if p not in primaries
                )
            )
        except (subprocess.SubprocessError, OSError):
            return False

    def wait_until_healthy(self, seconds: float = 30) -> float:
        """Seconds until every live node says the cluster is ok and every slot
        has a live primary."""
        start = time.monotonic()
        while not self.healthy():
            if time.monotonic() - start > seconds:
                raise TimeoutError("the Redis Cluster did not become healthy")
            time.sleep(0.1)
        return time.monotonic() - start

    def wait_for_failover(self, dead: int, seconds: float = 30) -> float:
        """Seconds until the slots of the ``dead`` primary have a live primary
        again (a replica promoted) and the cluster is ok."""
        start = time.monotonic()
        while dead in self.primaries() or not self.healthy():
            if time.monotonic() - start > seconds:
                raise TimeoutError(f"no failover of {dead} within {seconds:.0f} s")
            time.sleep(0.1)
        return time.monotonic() - start

    def kill(self, port: int) -> None:
        """SIGKILL: the node vanishes without a goodbye, as in a crash."""
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for port in list(self.processes):
            process = self.processes.pop(port)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
