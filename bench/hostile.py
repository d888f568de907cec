"""`/healthz` latency while hostile clients attack a real `microgrid serve`.

    .venv/bin/python -m bench.hostile                    # 8 s per phase
    .venv/bin/python -m bench.hostile --quick            # 3 s per phase
    .venv/bin/python -m bench.hostile --store sqlite     # default: PostgreSQL if reachable

Loopback only. The script starts its own server on a free port over a fresh
SQLite file or a fresh PostgreSQL database (dropped afterwards), seeds it with
the CLI and the API, then runs one phase with no attack and one per attack
class. Every attack is bounded in count and time and stops by itself.

The prober is a separate process (so the attackers' client CPU cannot delay
it) that fires 20 `GET /healthz` a second on a fixed schedule, each over a
fresh connection, and times each from its scheduled moment: a server that
stalls is charged for every probe it delayed, and a full accept queue shows
up as it would to a load balancer's health check. A probe unanswered after
`PROBE_TIMEOUT` seconds (bench/hostile_prober.py) counts as failed, at that
latency.

After each phase the script waits (at most `RECOVERY_CAP` seconds,
bench/hostile_phases.py) until five probes in a row answer within 50 ms, and
reports that wait as "recovery", so a phase does not leave its work to the
next one. One module per part: hostile_server (the server under attack),
hostile_http (the counting client), hostile_prober, hostile_target,
hostile_requests and hostile_sockets (the attacks), hostile_phases.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.hostile_http import graphql
from bench.hostile_phases import Phase, run_phase, table
from bench.hostile_prober import PROBE_RATE
from bench.hostile_requests import (
    attack_bodies,
    attack_fragments,
    attack_response,
    no_attack,
    seed_packets,
)
from bench.hostile_server import Server, database, postgres_reachable, serve
from bench.hostile_sockets import attack_frames, attack_slow_sockets
from bench.hostile_target import Tally, Target
from bench.serving import ROOT, cli

# (name, attack, least seconds): slow sockets outlast a plausible header timeout.
ATTACKS: list[tuple[str, Callable[[Target, float], Awaitable[Tally]], float]] = [
    ("baseline (no attack)", no_attack, 0),
    ("fragment bomb", attack_fragments, 0),
    ("largest allowed body", attack_bodies, 0),
    ("maximal response", attack_response, 0),
    ("slow sockets", attack_slow_sockets, 15),
    ("big frames", attack_frames, 0),
]


def setup(url: str) -> tuple[str, dict[str, str]]:
    """The demo depot and one token per role, made by the CLI."""
    cli(url, "migrate")
    out = cli(url, "demo").splitlines()
    depot = out[0].split()[2]
    tokens = {line.split()[0]: line.split()[-1] for line in out[1:] if "token:" in line}
    return depot, tokens


async def attack_all(server: Server, target: Target, seconds: float, only: set[str]) -> list[Phase]:
    phases = []
    for name, attack, least in ATTACKS:
        if only and name != ATTACKS[0][0] and not any(o in name for o in only):
            continue
        print(f"  {name} ...", file=sys.stderr, flush=True)
        phases.append(await run_phase(server, target, name, attack, max(seconds, least)))
    return phases


async def prepare(
    server: Server, depot: str, tokens: dict[str, str], args: argparse.Namespace
) -> Target:
    found = await graphql(
        server.port,
        tokens["admin"],
        "query ($d: ID!) { depot(id: $d) { devices { id } } }",
        {"d": depot},
    )
    target = Target(
        port=server.port,
        operator=tokens["operator"],
        admin=tokens["admin"],
        integration=tokens["integration"],
        device_id=found["data"]["depot"]["devices"][0]["id"],
        depot_id=depot,
        max_body=args.max_body_bytes,
        aliases=args.aliases,
        frame_bytes=int(args.frame_mib * 2**20),
    )
    await seed_packets(target, args.packets)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql"])
    parser.add_argument("--quick", action="store_true", help="3 s phases, 8 packets")
    parser.add_argument("--seconds", type=float, help="per phase (default 8, quick 3)")
    parser.add_argument(
        "--packets",
        type=int,
        help="packets stored, most of the biggest size accepted (default 20, quick 8)",
    )
    parser.add_argument("--max-body-bytes", type=int, default=262_144)
    parser.add_argument("--aliases", type=int, default=30, help="the server's MAX_ALIASES")
    parser.add_argument("--frame-mib", type=float, default=15.0)
    parser.add_argument("--only", action="append", default=[], help="run these attacks only")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 8.0)
    args.packets = args.packets or (8 if args.quick else 20)
    store = args.store or ("postgresql" if postgres_reachable() else "sqlite")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    env = {
        "ACCESS_LOG": "false",
        "MAX_BODY_BYTES": str(args.max_body_bytes),
        "MAX_ALIASES": str(args.aliases),
    }
    with database(store) as url, tempfile.TemporaryDirectory(prefix="mgs_hostile_log_") as logs:
        depot, tokens = setup(url)
        with serve(url, Path(logs) / "serve.log", env) as server:
            print(f"hostile: {store}, {seconds:g} s per phase, commit {commit}", file=sys.stderr)

            async def run() -> list[Phase]:
                target = await prepare(server, depot, tokens, args)
                return await attack_all(server, target, seconds, set(args.only))

            phases = asyncio.run(run())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\n{store}, {seconds:g} s per phase, {PROBE_RATE:g} probes/s, commit {commit}, {when}\n")
    print(table(phases))


if __name__ == "__main__":
    main()
