"""The benchmarks still load: no test runs them (they are timed, loopback-heavy
and run on demand), so a renamed module they import would otherwise go
unnoticed until the next `make bench`."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_every_bench_module_imports(name, monkeypatch):
    monkeypatch.setenv("RAW_DSN", "postgresql://unused")  # read by the raw baselines on import
    monkeypatch.setenv("REDIS_URL", "redis://unused")
    importlib.import_module(f"bench.{name}")


def test_the_runner_runs_as_a_module_with_its_benchmarks():
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    choices = (
        "{backfill,topology,ingest,fanout,cluster_fanout,packets,growth,load_chart,storm,tracing}"
    )
    assert choices in result.stdout
