"""What the log lines cost a request: the same small GraphQL query against
`microgrid serve` processes on one SQLite database, taking turns — JSON access
log (the default), text access log, no access log, and (when MAIN_MICROGRID
names the `microgrid` of a checkout before issue 17) uvicorn's own access log.

    python -m bench.access_log [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.load import Turns, take_turns, wait_for
from bench.measure import p99
from bench.serving import BIN, HOST, cli, free_port, stop

QUERY = {"query": "query Who { viewer { role } }"}


@contextmanager
def _serving(binary: Path, database_url: str, log: Path, **env: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(binary), "serve", "--host", HOST, "--port", str(port)],
            env={**os.environ, "DATABASE_URL": database_url, **env},
            stdout=out,
            stderr=out,
        )
    try:
        yield f"http://{HOST}:{port}/graphql", process.pid
    finally:
        stop(process)


async def bench_access_log(total: int, rounds: int, concurrency: int = 8) -> dict[str, object]:
    sides_env: dict[str, tuple[Path, dict[str, str]]] = {
        "json": (BIN, {"LOG_FORMAT": "json"}),
        "text": (BIN, {"LOG_FORMAT": "text"}),
        "off": (BIN, {"ACCESS_LOG": "false"}),
    }
    main = os.environ.get("MAIN_MICROGRID")
    if main:
        sides_env["main"] = (Path(main), {})
    with tempfile.TemporaryDirectory(prefix="mgs_hb_bench_") as tmp, ExitStack() as stack:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        token = cli(url, "tokens", "create", "--role", "admin").strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        sides = {}
        for name, (binary, env) in sides_env.items():
            # Each server's lines go to a file, as they would to a collector.
            log = Path(tmp) / f"{name}.log"
            endpoint, pid = stack.enter_context(_serving(binary, url, log, **env))
            sides[name] = (endpoint, lambda _n: QUERY, pid)
            # One after another: each migrates the one SQLite file as it starts.
            try:
                await wait_for(endpoint.replace("/graphql", "/healthz"))
            except TimeoutError:
                print(log.read_text()[-3000:], file=sys.stderr)
                raise
        await take_turns(sides, 1, 100, concurrency, headers)  # warm up
        turns = {name: Turns() for name in sides}
        names = list(sides)
        for round_ in range(rounds):  # each round in another order: none always goes first
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            taken = await take_turns({n: sides[n] for n in order}, 1, total, concurrency, headers)
            for name, turn in taken.items():
                turns[name].rates += turn.rates
                turns[name].latencies += turn.latencies
                turns[name].cpu += turn.cpu
        lines = {name: (Path(tmp) / f"{name}.log").read_text().count("\n") for name in sides}
    result: dict[str, object] = {"requests": total * rounds, "concurrency": concurrency}
    for name, turn in turns.items():
        result[f"{name}_req_per_s"] = statistics.median(turn.rates)
        result[f"{name}_median_ms"] = statistics.median(turn.latencies) * 1e3
        result[f"{name}_p99_ms"] = p99(sorted(turn.latencies)) * 1e3
        result[f"{name}_cpu_ms_per_request"] = statistics.median(turn.cpu) * 1e3
        result[f"{name}_log_lines"] = lines[name]
    off = statistics.median(turns["off"].rates)
    for name, turn in turns.items():
        result[f"ratio_{name}_to_off"] = statistics.median(turn.rates) / off
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    result = asyncio.run(bench_access_log(200 if args.quick else 1000, rounds))
    for key, value in result.items():
        print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"load average: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
