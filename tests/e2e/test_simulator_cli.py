"""QA's workflow: a real `microgrid serve`, the simulator CLI against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import cli, serve

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent / "microgrid"


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "sim", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_a_preset_through_the_cli_with_evidence(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'sim.db'}"
    token = cli(url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    evidence = tmp_path / "evidence.jsonl"
    failing = tmp_path / "failing.toml"
    failing.write_text(
        'name = "wrong on purpose"\n\n[initial]\nMCN_MGC_DER_EXP_ON_OFF = true\n'
        '\n[[steps]]\nat = 0\n[steps.expect]\nder = "OFF"\n'
    )
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "broken"\n\n[[steps]]\nat = -1\n')
    with serve(url) as server:
        base = server.url.removesuffix("/graphql")
        listed = sim("list")
        ran = sim(
            "run",
            "bess-modes",
            "--url",
            base,
            "--token",
            token,
            "--provision",
            "--out",
            str(evidence),
        )
        depot = json.loads(evidence.read_text().splitlines()[0])
        mismatch = sim("run", str(failing), "--url", base, "--token", token, "--provision")
        invalid = sim("run", str(broken), "--url", base, "--token", token, "--provision")
        wrong_token = sim("run", "resend", "--url", base, "--token", "mgs_nope", "--provision")

    assert listed.returncode == 0 and "stale-gap" in listed.stdout
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "[8/8]" in ran.stdout and "all expectations met" in ran.stdout
    assert depot["step"] == 1 and depot["packet"]["sensors"][0]["measurands"]
    assert len(evidence.read_text().splitlines()) == 8
    assert mismatch.returncode == 1 and "expected 'OFF', got 'ON'" in mismatch.stdout
    assert invalid.returncode == 2 and "line 4: steps[0].at" in invalid.stderr
    assert wrong_token.returncode == 3 and "UNAUTHENTICATED" in wrong_token.stderr


def test_catching_up_a_repeating_day_by_depot_name(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'day.db'}"
    token = cli(url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
    common = ("--token", token, "--catch-up", "--every", "7200", "--quiet", "--wait-ready", "30")
    with serve(url) as server:
        base = server.url.removesuffix("/graphql")
        first = sim("run", "day-in-the-life", "--url", base, *common, "--provision")
        again = sim(
            "run",
            "day-in-the-life",
            "--url",
            base,
            *common,
            "--depot",
            "Simulator: day-in-the-life",
        )
        not_repeating = sim(
            "run", "der-export", "--url", base, "--token", token, "--catch-up", "--provision"
        )
        no_generate = sim("run", "der-export", "--url", base, *common, "--provision")

    assert first.returncode == 0, first.stdout + first.stderr
    assert "day-in-the-life: played" in first.stdout and "all expectations met" in first.stdout
    assert len(first.stdout.strip().splitlines()) <= 3, "one summary line (wrapped)"
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to play" in again.stdout
    assert not_repeating.returncode == 2 and "(one with [generate])" in not_repeating.stderr
    assert (
        no_generate.returncode == 2 and "--every needs a [generate] section" in no_generate.stderr
    )
