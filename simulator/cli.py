"""`microgrid sim ...`: list presets and run scenarios against a live service."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simulator import vocabulary
from simulator.scenario import Scenario, ScenarioError, load, presets

if TYPE_CHECKING:
    from simulator import runner

sim_cli = typer.Typer(
    help="Depot simulator: BBA controller scenarios through the real ingest path.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


@sim_cli.command("list")
def list_presets() -> None:
    """The preset scenarios shipped with the service."""
    table = Table("preset", "steps", "virtual duration", "what it shows")
    for name in presets():
        scenario = load(name)
        table.add_row(name, str(len(scenario.steps)), _duration(scenario), scenario.description)
    out.print(table)


def _duration(scenario: Scenario) -> str:
    if scenario.period_seconds is not None:
        return f"{scenario.period_seconds / 3600:g} h, repeats"
    return f"{scenario.duration_seconds:g} s"


@sim_cli.command("run")
def run_scenario(
    scenario: Annotated[str, typer.Argument(help="A preset name or a scenario file (TOML).")],
    url: Annotated[str, typer.Option(help="The service, e.g. http://127.0.0.1:8000.")],
    token: Annotated[
        str,
        typer.Option(help="An admin token (reads configuration, provisions and sends packets)."),
    ],
    depot: Annotated[
        str | None,
        typer.Option(help="Target this depot's controller device (the depot's id or exact name)."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="Target this device of --depot.")] = None,
    provision: Annotated[
        bool,
        typer.Option(
            "--provision",
            help="Create a depot, gateway, controller, binding and battery for the run.",
        ),
    ] = False,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write JSONL evidence here.")
    ] = None,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Wait out the step offsets on the wall clock.")
    ] = False,
    start: Annotated[
        str | None,
        typer.Option(help="Virtual start time (ISO 8601); default: the timeline ends now."),
    ] = None,
    catch_up: Annotated[
        bool,
        typer.Option(
            "--catch-up",
            help="A repeating ([generate]) scenario on the UTC day: play only what the device "
            "has not reported of the last period ending now (nothing twice when re-run).",
        ),
    ] = False,
    wait_ready: Annotated[
        float,
        typer.Option(help="Wait up to this many seconds for the service's /readyz first."),
    ] = 0.0,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="One summary line instead of a line per step.")
    ] = False,
    every: Annotated[
        float | None,
        typer.Option(min=1, help="A [generate] scenario's step interval instead of its own (s)."),
    ] = None,
    batch: Annotated[
        int,
        typer.Option(
            min=1,
            max=100,
            help="Send up to N steps' packets per request (ingestSensorPackets), as a gateway "
            "flushes its buffer; a step with expectations ends its request.",
        ),
    ] = 1,
) -> None:
    """Run a scenario: one packet per step, a line per step, a table of outcomes at the end.
    Exit status 1 when any step's outcome differs from the scenario's expectation."""
    from simulator import runner
    from simulator.client import ServiceError

    # Started in the background by a shell (as `make run` does), SIGINT arrives
    # ignored; Ctrl-C in the terminal should stop the run all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        loaded = load(scenario, every)
    except ScenarioError as error:
        err.print(f"[red]scenario {escape(error.source)} is not valid:[/red]")
        for problem in error.problems:
            err.print(f"  {escape(problem)}")
        raise typer.Exit(2) from error
    if provision == (depot is not None):
        err.print("[red]give exactly one of --depot or --provision[/red]")
        raise typer.Exit(2)
    if catch_up and (start or realtime or loaded.period_seconds is None):
        err.print(
            "[red]--catch-up needs a repeating scenario (one with \\[generate]) "
            "and neither --start nor --realtime[/red]"
        )
        raise typer.Exit(2)
    try:
        anchor = (
            datetime.fromisoformat(start).astimezone(UTC)
            if start
            else runner.default_start(loaded, datetime.now(UTC), realtime)
        )
    except ValueError as error:
        err.print(f"[red]--start is not an ISO 8601 time: {escape(str(error))}[/red]")
        raise typer.Exit(2) from error
    options = _Options(
        depot, device, provision, out_file, realtime, catch_up, wait_ready, quiet, batch
    )
    try:
        result, seconds = asyncio.run(_run(loaded, url, token, options, anchor))
    except (ServiceError, runner.SimulatorError) as error:
        err.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(3) from error
    if quiet or not result.steps:
        _one_line(result, seconds)
    else:
        _summary(result)
    if out_file:
        out.print(f"evidence: {out_file}")
    raise typer.Exit(0 if result.ok else 1)


@dataclass(frozen=True)
class _Options:
    depot: str | None
    device: str | None
    provision: bool
    evidence: Path | None
    realtime: bool
    catch_up: bool
    wait_ready: float
    quiet: bool
    batch: int = 1


async def _run(
    scenario: Scenario, url: str, token: str, options: _Options, start: datetime
) -> tuple[runner.RunResult, float]:
    """The run, and how long it took once the service was ready."""
    from simulator import runner
    from simulator.client import ServiceClient

    client = ServiceClient(url, token)
    try:
        if options.wait_ready > 0:
            await client.wait_ready(options.wait_ready)
        began = time.monotonic()
        target = (
            await runner.provision(client, scenario)
            if options.provision
            else await runner.discover(
                client, await runner.find_depot(client, str(options.depot)), options.device
            )
        )
        packets = None
        if options.catch_up:
            now = datetime.now(UTC).replace(microsecond=0)
            since = await runner.last_reported(client, target.device_id)
            packets = runner.catch_up(scenario, target.device_id, now, since)
            start = now - timedelta(seconds=scenario.period_seconds or 0)
            if since is not None and since > start:
                start = since
        if not options.quiet:
            out.print(
                f"{scenario.name}: depot {target.depot_id}, device {target.device_id}, "
                f"virtual start {start.isoformat()}"
            )
        total = len(scenario.steps)

        def progress(step: runner.StepResult) -> None:
            mark = "[green]ok[/green]" if step.ok else "[red]MISMATCH[/red]"
            outcomes = ", ".join(
                f"{o['action'].removeprefix('UPDATE_')}={o['code']}" for o in step.outcomes
            )
            out.print(
                f"[{step.planned.index + 1}/{total}] t+{step.planned.step.at:g}s "
                f"{step.planned.step.name}: {outcomes} {mark}"
            )
            for check in step.checks:
                if not check.ok:
                    out.print(
                        f"      {check.field}: expected {check.expected!r}, got {check.actual!r}"
                    )

        result = await runner.run(
            client,
            scenario,
            target,
            start,
            realtime=options.realtime,
            progress=None if options.quiet else progress,
            evidence=options.evidence,
            packets=packets,
            read_back=not options.quiet or options.evidence is not None,
            batch=options.batch,
        )
        return result, time.monotonic() - began
    finally:
        await client.close()


def _one_line(result: runner.RunResult, seconds: float) -> None:
    steps = result.steps
    if not steps:
        out.print(
            f"{result.scenario.name}: nothing to play, depot {result.target.depot_id} "
            "has reported up to now"
        )
        return
    failed = sum(1 for s in steps if not s.ok)
    verdict = "all expectations met" if not failed else f"{failed} step(s) NOT as expected"
    out.print(
        f"{result.scenario.name}: played {len(steps)} packets "
        f"({steps[0].planned.virtual_time:%Y-%m-%d %H:%M} to "
        f"{steps[-1].planned.virtual_time:%Y-%m-%d %H:%M} UTC) into depot "
        f"{result.target.depot_id} in {seconds:.1f} s; {verdict}"
    )


def _summary(result: runner.RunResult) -> None:
    actions = vocabulary.actions()
    table = Table(
        "step",
        "t",
        "name",
        *(action.removeprefix("UPDATE_").replace("_", " ").lower() for action in actions),
        "checks",
        title=f"{result.scenario.name}: "
        f"{'all expectations met' if result.ok else 'EXPECTATIONS NOT MET'}",
    )
    for step in result.steps:
        codes = {o["action"]: o["code"] for o in step.outcomes}
        failed = [c for c in step.checks if not c.ok]
        table.add_row(
            str(step.planned.index + 1),
            f"{step.planned.step.at:g}s",
            step.planned.step.name,
            *(codes.get(action, "-") for action in actions),
            "-"
            if not step.checks
            else (f"{len(step.checks)} ok" if not failed else f"{len(failed)} failed"),
        )
    out.print(table)
