"""Starting a real `microgrid serve` process on a free loopback port: the
benchmarks' helper, shared (bench/ may not import tests/; the reverse is fine)."""

from bench.serving import RunningServer, cli, free_port, serve, stop

__all__ = ["RunningServer", "cli", "free_port", "serve", "stop"]
