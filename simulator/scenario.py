"""Scenario files (TOML): a seed, a virtual clock and per-step controller
changes with optional expectations. Errors name the line and the field."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulator import bba, site, vocabulary
from simulator.timeline import (
    Generate,
    Step,
    check_every,
    clock,
    expand,
    offset,
    parse_generate,
)

PRESETS_DIR = Path(__file__).parent / "presets"
MAX_POWER_W = 1e9
EXPECT_NUMBERS = ("effective_capacity_w", "soc_percent", "load_w")
KNOWN_FIELDS = (
    "name",
    "description",
    "seed",
    "initial",
    "steps",
    "provision",
    "device",
    "generate",
)
STATE_KEYS = (*bba.KEYS, *site.KEYS)
"""What a scenario may set: the BBA controller's keys and the site sensor's generic keys."""
NUMBER_KEYS = (*bba.NUMBER_KEYS, *site.NUMBER_KEYS)
FLAG_KEYS = (*bba.FLAG_KEYS, *site.FLAG_KEYS)


class ScenarioError(ValueError):
    """A scenario file that cannot be run; ``problems`` say where and why."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class Provision:
    capabilities: tuple[str, ...] = field(default_factory=vocabulary.capabilities)
    stale_after_seconds: int = 300
    safe_capacity_w: float = 100_000.0
    battery: bool = True


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    initial: dict[str, Any]
    steps: tuple[Step, ...]
    provision: Provision
    identity: dict[str, str | None]
    period_seconds: float | None = None
    """A generated scenario's day length: its timeline repeats with this period."""

    @property
    def duration_seconds(self) -> float:
        return self.steps[-1].at if self.steps else 0.0


def presets() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PRESETS_DIR.glob("*.toml"))}


def load(name_or_path: str, every: float | None = None) -> Scenario:
    """A preset by name, or a scenario file by path; ``every`` replaces a
    ``[generate]`` section's step interval (fewer, larger steps)."""
    path = presets().get(name_or_path) or Path(name_or_path)
    if not path.exists():
        raise ScenarioError(
            name_or_path, [f"no preset or file of that name (presets: {', '.join(presets())})"]
        )
    return parse(path.read_text(), str(path), every)


def parse(text: str, source: str = "<scenario>", every: float | None = None) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(source, [f"not valid TOML: {error}"]) from error
    lines = _Lines(text)
    problems: list[str] = []

    def problem(path: str, message: str) -> None:
        problems.append(f"line {lines.find(path)}: {path}: {message}")

    for key in data:
        if key not in KNOWN_FIELDS:
            problem(key, "unknown field")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        problem("name", "required, a non-empty string")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        problem("seed", "must be an integer")
    initial = data.get("initial", {})
    if not isinstance(initial, dict):
        problem("initial", "must be a table of BBA keys")
        initial = {}
    _check_state(initial, "initial", problem)
    generate: Generate | None = None
    if "generate" in data:
        generate = parse_generate(data["generate"], NUMBER_KEYS, _check_value(problem), problem)
    steps = _steps(data.get("steps"), problem, required=generate is None)
    if generate is not None:
        if every is not None:
            if (why := check_every(every, generate.duration)) is not None:
                problem("generate.every", why)
            else:
                generate = replace(generate, every=every)
        steps = expand(generate, steps, problem)
    elif every is not None:
        problem("generate", "--every needs a [generate] section")
    provision = _provision(data.get("provision", {}), problem)
    identity = _identity(data.get("device", {}), problem)
    if problems:
        raise ScenarioError(source, problems)
    return Scenario(
        name=str(name),
        description=str(data.get("description", "")),
        seed=int(seed),
        initial=dict(initial),
        steps=tuple(steps),
        provision=provision,
        identity=identity,
        period_seconds=generate.duration if generate else None,
    )


def _check_state(values: dict[str, Any], path: str, problem: Any) -> None:
    for key, value in values.items():
        where = f"{path}.{key}"
        if key not in STATE_KEYS:
            problem(where, "not a BBA controller key or a site sensor key")
        elif key in NUMBER_KEYS:
            _check_value(problem)(key, value, where)
        elif key in FLAG_KEYS and not isinstance(value, bool):
            problem(where, "must be true or false")
        elif key == bba.HEARTBEAT and value not in bba.HEARTBEATS:
            problem(where, f"must be one of {', '.join(bba.HEARTBEATS)}")


def _check_value(problem: Any) -> Any:
    """Reports a numeric key's value that is not a number in its range."""

    def check(key: str, value: object, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problem(where, "must be a number")
        elif not math.isfinite(value):
            problem(where, "must be a finite number")
        elif key == bba.BESS_SOC and not 0 <= value <= 100:
            problem(where, "must be between 0 and 100")
        elif key in bba.NUMBER_KEYS and key != bba.BESS_SOC and value < 0:
            problem(where, "must not be negative")
        elif abs(value) > MAX_POWER_W:
            problem(where, "must be within ±1e9")

    return check


def _steps(raw: Any, problem: Any, *, required: bool) -> list[Step]:
    if raw is None and not required:
        return []
    if not isinstance(raw, list) or not raw:
        problem("steps", "at least one [[steps]] table is required (or a [generate] section)")
        return []
    steps: list[Step] = []
    previous = 0.0
    for i, item in enumerate(raw):
        path = f"steps[{i}]"
        if not isinstance(item, dict):
            problem(path, "must be a table")
            continue
        for key in item:
            if key not in (
                "at",
                "name",
                "set",
                "unset",
                "unavailable",
                "noise",
                "resend",
                "expect",
            ):
                problem(f"{path}.{key}", "unknown field")
        at = offset(item.get("at"))
        if at is None:
            problem(f"{path}.at", 'required: seconds after the start (>= 0) or "H:MM"')
            at = previous
        elif at < previous:
            problem(f"{path}.at", f"steps must not go back in time (previous at = {previous})")
        previous = float(at)
        changes = item.get("set", {})
        if not isinstance(changes, dict):
            problem(f"{path}.set", "must be a table of BBA keys")
            changes = {}
        _check_state(changes, f"{path}.set", problem)
        lists = {}
        for name in ("unset", "unavailable"):
            keys = item.get(name, [])
            if not isinstance(keys, list) or any(k not in STATE_KEYS for k in keys):
                problem(f"{path}.{name}", "must be a list of BBA controller or site sensor keys")
                keys = []
            lists[name] = tuple(keys)
        noise = item.get("noise", {})
        if not isinstance(noise, dict) or any(
            k not in NUMBER_KEYS
            or isinstance(v, bool)
            or not isinstance(v, int | float)
            or not math.isfinite(v)
            for k, v in noise.items()
        ):
            problem(f"{path}.noise", "must map numeric keys to amplitudes")
            noise = {}
        resend = item.get("resend", False)
        if not isinstance(resend, bool):
            problem(f"{path}.resend", "must be true or false")
        if resend and i == 0:
            problem(f"{path}.resend", "the first step has no packet to re-send")
        expect = item.get("expect", {})
        _check_expect(expect, f"{path}.expect", problem)
        steps.append(
            Step(
                at=float(at),
                name=str(item["name"])
                if "name" in item
                else (f"step {i + 1}" if required else clock(float(at))),
                set=dict(changes),
                unset=lists["unset"],
                unavailable=lists["unavailable"],
                noise={k: float(v) for k, v in noise.items()},
                resend=bool(resend),
                expect=dict(expect),
            )
        )
    return steps


def _check_expect(expect: Any, path: str, problem: Any) -> None:
    if not isinstance(expect, dict):
        problem(path, "must be a table")
        return
    enums, actions = vocabulary.expect_enums(), vocabulary.actions()
    for key, value in expect.items():
        where = f"{path}.{key}"
        if key in enums:
            if value not in enums[key]:
                problem(where, f"must be one of {', '.join(enums[key])}")
        elif key in EXPECT_NUMBERS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                problem(where, "must be a number")
        elif key == "outcomes":
            if not isinstance(value, dict) or any(a not in actions for a in value):
                problem(where, f"must map actions ({', '.join(actions)}) to an outcome or code")
        else:
            problem(where, "unknown expectation")


def _provision(raw: Any, problem: Any) -> Provision:
    if not isinstance(raw, dict):
        problem("provision", "must be a table")
        return Provision()
    known = vocabulary.capabilities()
    capabilities = raw.get("capabilities", list(known))
    if (
        not isinstance(capabilities, list)
        or not capabilities
        or any(c not in known for c in capabilities)
    ):
        problem("provision.capabilities", f"a non-empty list of {', '.join(known)}")
        capabilities = list(known)
    stale = raw.get("stale_after_seconds", 300)
    if isinstance(stale, bool) or not isinstance(stale, int) or stale <= 0:
        problem("provision.stale_after_seconds", "a positive integer")
        stale = 300
    safe = raw.get("safe_capacity_w", 100_000)
    if isinstance(safe, bool) or not isinstance(safe, int | float) or safe < 0:
        problem("provision.safe_capacity_w", "a number >= 0")
        safe = 100_000
    battery = raw.get("battery", True)
    return Provision(tuple(capabilities), int(stale), float(safe), bool(battery))


def _identity(raw: Any, problem: Any) -> dict[str, str | None]:
    identity: dict[str, str | None] = {
        "manufacturer": "BBA",
        "model": "MGC",
        "serial_number": None,
        "firmware": None,
    }
    if not isinstance(raw, dict):
        problem("device", "must be a table")
        return identity
    for key, value in raw.items():
        if key not in identity:
            problem(f"device.{key}", "unknown field")
        elif not isinstance(value, str):
            problem(f"device.{key}", "must be a string")
        else:
            identity[key] = value
    return identity


class _Lines:
    """Finds the line of a field path like steps[2].expect.der in TOML text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []
        counts: dict[str, int] = {}
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if stripped.startswith("[["):
                table = stripped.strip("[] ")
                counts[table] = counts.get(table, -1) + 1
                self.headers.append((number, f"{table}[{counts[table]}]"))
            elif stripped.startswith("["):
                table = stripped.strip("[] ")
                parent, _, child = table.rpartition(".")
                if parent in counts:
                    table = f"{parent}[{counts[parent]}].{child}"
                self.headers.append((number, table))

    def find(self, path: str) -> int:
        key = re.split(r"[.\[]", path.split(".")[-1])[0]
        block = self._block(path)
        start, end = block
        for number in range(start, end + 1):
            line = self.lines[number - 1] if 0 < number <= len(self.lines) else ""
            if re.search(rf"(^|[\s{{,]){re.escape(key)}\s*=", line):
                return number
        return start if start > 0 else 1

    def _block(self, path: str) -> tuple[int, int]:
        """Lines of the innermost table holding ``path`` (top level if none)."""
        match: tuple[int, str, int] | None = None
        for index, (number, table) in enumerate(self.headers):
            if path == table or path.startswith(table + "."):
                end = (
                    self.headers[index + 1][0] - 1
                    if index + 1 < len(self.headers)
                    else len(self.lines)
                )
                if match is None or len(table) >= len(match[1]):
                    match = (number, table, end)
        if match is None:
            return 1, (self.headers[0][0] - 1 if self.headers else len(self.lines))
        return match[0], match[2]
