"""Does a depot-scoped token's lookup take longer for another depot's real id
than for an id that does not exist? (DESIGN §5: it must not be able to tell.)

Starts `microgrid serve` on a free loopback port over a fresh SQLite file (or
the empty database at ``--database-url``), creates two provisioned depots with
a device each, and a token scoped to the first. Then, for ``microgrid(id)`` and
``device(id)``, sends ``--samples`` requests of each kind interleaved (hidden
real id, fresh random id, own id) over one keep-alive connection and prints
the medians and the hidden / missing ratio (1.00 = no difference).

    .venv/bin/python -m bench.leak_timing --samples 200
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid

import httpx

from bench.serving import cli, serve

MAX_SAMPLES = 2_000
QUERIES = {
    "microgrid": "query ($x: ID!) { microgrid(id: $x) { __typename ... on NotFound { code } } }",
    "device": "query ($x: ID!) { device(id: $x) { id } }",
}


def _cli(database_url: str, *args: str) -> str:
    """The last line ``microgrid ARGS`` prints (a token, for ``tokens create``)."""
    lines = cli(database_url, *args).strip().splitlines()
    return lines[-1] if lines else ""


def _post(client: httpx.Client, token: str, query: str, variables: dict[str, object]) -> dict:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    body: dict = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return dict(body["data"])


def _equipped_depot(client: httpx.Client, admin: str, name: str) -> dict[str, str]:
    created = _post(
        client,
        admin,
        """mutation ($n: String!) { createDepot(input: {name: $n, topLevelCircuits: [{name: "F"}]})
        { ... on CreateDepotSuccess { depot { id } microgrid { id } } } }""",
        {"n": name},
    )["createDepot"]
    depot = created["depot"]["id"]
    device = _post(
        client,
        admin,
        'mutation ($d: ID!) { createDevice(input: {depotId: $d, name: "ctl"}) '
        "{ ... on Device { id } } }",
        {"d": depot},
    )["createDevice"]["id"]
    return {"depot": depot, "microgrid": created["microgrid"]["id"], "device": device}


def _timed(client: httpx.Client, token: str, query: str, value: str) -> float:
    start = time.perf_counter()
    _post(client, token, query, {"x": value})
    return time.perf_counter() - start


def measure(base: str, scoped: str, ids: dict[str, dict[str, str]], n: int) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        for field, query in QUERIES.items():
            samples: dict[str, list[float]] = {"hidden": [], "missing": [], "own": []}
            for i in range(n + n // 10):
                kinds = [
                    ("hidden", ids["hidden"][field]),
                    ("missing", str(uuid.uuid4())),
                    ("own", ids["mine"][field]),
                ]
                for kind, value in kinds if i % 2 else reversed(kinds):
                    elapsed = _timed(client, scoped, query, value)
                    if i >= n // 10:  # the first tenth warms up
                        samples[kind].append(elapsed)
            median = {k: statistics.median(v) * 1000 for k, v in samples.items()}
            print(
                f"{field}(id), {n} interleaved samples each: median hidden "
                f"{median['hidden']:.3f} ms, missing {median['missing']:.3f} ms, own "
                f"{median['own']:.3f} ms; hidden / missing = "
                f"{median['hidden'] / median['missing']:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    args = parser.parse_args()
    samples = max(10, min(args.samples, MAX_SAMPLES))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/leak_timing.db"
        _cli(url, "migrate")
        admin = _cli(url, "tokens", "create", "--role", "admin")
        with (
            serve(url, ACCESS_LOG="false") as server,
            httpx.Client(base_url=server.base, timeout=30) as client,
        ):
            ids = {
                "mine": _equipped_depot(client, admin, "Mine"),
                "hidden": _equipped_depot(client, admin, "Hidden"),
            }
            scoped = _cli(
                url, "tokens", "create", "--role", "admin", "--depot", ids["mine"]["depot"]
            )
            measure(server.base, scoped, ids, samples)


if __name__ == "__main__":
    main()
