"""A deploy's stop: from SIGTERM until the last open card subscription has its
close frame (1001), and until the process has exited, with SHUTDOWN_DRAIN_SECONDS=0
(the drain is a fixed wait that would only add itself). Against the same stop
with no subscription open, in the same run.

    .venv/bin/python -m bench.shutdown [--quick]

Not in bench.run's table: run on its own (bench/README.md, "Issue 17: deploys")."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import time
from collections.abc import Awaitable

from bench.depots import provisioned_depots
from bench.rawws import RawSubscriber
from bench.report import Row, header, markdown_table
from bench.serving import serve
from bench.stores import Database
from bench.subscribers import CARD_SUB, Arrivals, open_in_batches

GOING_AWAY = 1001


class ClosingSubscriber(RawSubscriber):
    """A raw subscriber that notes when its close frame came, and its code, and
    answers the server's WebSocket pings (opening hundreds of them can outlast
    uvicorn's ping interval and timeout, which would close the first with 1011)."""

    close_code: int | None = None
    closed_at: float | None = None

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x9 and self.transport is not None and len(payload) < 126:
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
            return
        if opcode == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            self.closed_at = now
        super()._frame(opcode, payload, now)


async def one_stop(db_url: str, operator: str, depot_id: str, count: int) -> dict[str, float]:
    """Seconds from SIGTERM to the last 1001 and to the exit, ``count`` subscribers open."""
    with serve(db_url, ACCESS_LOG="false", SHUTDOWN_DRAIN_SECONDS="0") as server:
        arrivals = Arrivals()
        arrivals.expect(count)

        def subscriber(_i: int) -> Awaitable[RawSubscriber]:
            return ClosingSubscriber.open(
                server.ws_url, operator, CARD_SUB, {"depotId": depot_id}, arrivals
            )

        # Bounded: a subscriber whose connection is lost while opening never resolves.
        subscribers = await asyncio.wait_for(open_in_batches(subscriber, range(count)), 300)
        if count:
            await asyncio.wait_for(arrivals.done.wait(), 120)  # every snapshot
        started = time.perf_counter()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(s.closed for s in subscribers))
        last_close = max(
            (s.closed_at or 0.0 for s in subscribers if isinstance(s, ClosingSubscriber)),
            default=started,
        )
        code = await asyncio.to_thread(server.process.wait, 60)
        exited = time.perf_counter()
    codes = {s.close_code for s in subscribers if isinstance(s, ClosingSubscriber)}
    assert code == 0, f"serve exited with {code}"
    assert codes <= {GOING_AWAY}, f"close codes {codes}"
    return {"last_1001": last_close - started, "exit": exited - started}


async def bench_shutdown(counts: list[int], rounds: int) -> list[Row]:
    async with Database() as db:
        [(depot_id, _microgrid)], _integration, operator = await provisioned_depots(db)
        samples: dict[int, list[dict[str, float]]] = {c: [] for c in counts}
        for _ in range(rounds):  # alternating sizes: both see the same noise
            for count in counts:
                samples[count].append(await one_stop(db.url, operator, depot_id, count))
                print(count, samples[count][-1], flush=True)
    base = statistics.median(s["exit"] for s in samples[0])
    rows: list[Row] = []
    for count in counts[1:]:
        exit_median = statistics.median(s["exit"] for s in samples[count])
        close_median = statistics.median(s["last_1001"] for s in samples[count])
        rows.append(
            (
                "stop: SIGTERM to exit (drain 0)",
                f"{count} card subscriptions, {rounds} runs",
                f"{exit_median:.2f} s (last 1001 at {close_median:.2f} s)",
                f"{base:.2f} s with none open",
                f"{exit_median / base:.2f}x",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    counts, rounds = ([0, 100], 3) if args.quick else ([0, 500], 3)
    title = header(args.quick)
    rows = asyncio.run(bench_shutdown(counts, rounds))
    print(f"\n{title} · load average {os.getloadavg()[0]:.1f}\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
