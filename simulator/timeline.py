"""Steps on a scenario's virtual clock, and the ``[generate]`` section that
makes them for a long scenario: a step every ``every`` seconds over
``duration``, named curves for numeric keys, and silent spans with no packet.
Hand-written ``[[steps]]`` are merged in at their times."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

Problem = Callable[[str, str], None]
SHAPES = ("linear", "step")
MAX_STEPS = 100_000
"""A generated timeline's bound (a 24 h day at a step a second is 86,400)."""
_CLOCK = re.compile(r"^(\d{1,3}):([0-5]\d)(?::([0-5]\d))?$")


@dataclass(frozen=True)
class Step:
    at: float
    name: str
    set: dict[str, Any] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()
    noise: dict[str, float] = field(default_factory=dict)
    resend: bool = False
    expect: dict[str, Any] = field(default_factory=dict)


def offset(value: object) -> float | None:
    """Seconds after the start: a number >= 0, or "H:MM" / "H:MM:SS"; None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) and value >= 0 else None
    if isinstance(value, str) and (match := _CLOCK.match(value)):
        hours, minutes, seconds = match.groups()
        return int(hours) * 3600.0 + int(minutes) * 60 + int(seconds or 0)
    return None


def clock(seconds: float) -> str:
    """An offset as "H:MM" (or "H:MM:SS" off the minute)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


@dataclass(frozen=True)
class Curve:
    key: str
    points: tuple[tuple[float, float], ...]
    """(offset, value), offsets increasing."""
    shape: str = "linear"
    noise: float = 0.0

    def value(self, at: float) -> float:
        """Linear between points (``step``: the last point's value holds);
        before the first and after the last point the end value holds."""
        points = self.points
        if at <= points[0][0]:
            return points[0][1]
        for (t0, v0), (t1, v1) in pairwise(points):
            if at < t1:
                if self.shape == "step":
                    return v0
                return round(v0 + (v1 - v0) * (at - t0) / (t1 - t0), 3)
        return points[-1][1]


@dataclass(frozen=True)
class Generate:
    every: float
    duration: float
    """The generated day's length; steps lie in [0, duration), so the timeline repeats."""
    curves: tuple[Curve, ...] = ()
    silent: tuple[tuple[float, float], ...] = ()

    def is_silent(self, at: float) -> bool:
        return any(start <= at < end for start, end in self.silent)


def check_every(every: float, duration: float) -> str | None:
    """Why a step interval cannot be used for a duration, if it cannot."""
    if not 1 <= every < math.inf:
        return "the step interval must be at least 1 s"
    if duration / every > MAX_STEPS:
        return f"more than {MAX_STEPS:,} steps at this interval"
    return None


def parse_generate(
    raw: Any,
    number_keys: tuple[str, ...],
    check_value: Callable[[str, object, str], None],
    problem: Problem,
) -> Generate | None:
    """The ``[generate]`` table; ``check_value(key, value, path)`` reports a bad curve value."""
    if not isinstance(raw, dict):
        problem("generate", "must be a table")
        return None
    for key in raw:
        if key not in ("every", "duration", "curves", "silent"):
            problem(f"generate.{key}", "unknown field")
    every = raw.get("every")
    if isinstance(every, bool) or not isinstance(every, int | float) or not 1 <= every < math.inf:
        problem("generate.every", "required: seconds between steps, a number >= 1")
        every = 60
    duration = offset(raw.get("duration"))
    if duration is None or duration <= 0:
        problem("generate.duration", 'required: seconds or "H:MM", > 0')
        duration = float(every)
    elif duration / every > MAX_STEPS:
        problem("generate.duration", f"more than {MAX_STEPS:,} steps at this interval")
        duration = float(every)
    curves: list[Curve] = []
    table = raw.get("curves", {})
    if not isinstance(table, dict):
        problem("generate.curves", "must be a table of curves by numeric key")
        table = {}
    for key, spec in table.items():
        curve = _curve(key, spec, duration, number_keys, check_value, problem)
        if curve is not None:
            curves.append(curve)
    return Generate(float(every), duration, tuple(curves), _silent(raw, duration, problem))


def _curve(
    key: str,
    spec: Any,
    duration: float,
    number_keys: tuple[str, ...],
    check_value: Callable[[str, object, str], None],
    problem: Problem,
) -> Curve | None:
    path = f"generate.curves.{key}"
    if key not in number_keys:
        problem(path, f"not a numeric key ({', '.join(number_keys)})")
        return None
    if not isinstance(spec, dict):
        problem(path, "must be a table with points")
        return None
    for name in spec:
        if name not in ("points", "shape", "noise"):
            problem(f"{path}.{name}", "unknown field")
    shape = spec.get("shape", "linear")
    if shape not in SHAPES:
        problem(f"{path}.shape", f"must be one of {', '.join(SHAPES)}")
    noise = spec.get("noise", 0)
    if isinstance(noise, bool) or not isinstance(noise, int | float) or not 0 <= noise < math.inf:
        problem(f"{path}.noise", "an amplitude >= 0")
        noise = 0
    raw_points = spec.get("points")
    if not isinstance(raw_points, list) or not raw_points:
        problem(f"{path}.points", 'at least one [time, value] pair, time in seconds or "H:MM"')
        return None
    points: list[tuple[float, float]] = []
    for i, pair in enumerate(raw_points):
        where = f"{path}.points"
        at = offset(pair[0]) if isinstance(pair, list) and len(pair) == 2 else None
        if at is None or at > duration:
            problem(where, f"point {i + 1}: [time, value] with a time from 0 to the duration")
            continue
        if points and at <= points[-1][0]:
            problem(where, f"point {i + 1}: times must increase")
            continue
        value = pair[1]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problem(where, f"point {i + 1}: the value must be a number")
            continue
        check_value(key, value, where)
        points.append((at, float(value)))
    if not points:
        return None
    return Curve(key, tuple(points), str(shape), float(noise))


def _silent(
    raw: dict[str, Any], duration: float, problem: Problem
) -> tuple[tuple[float, float], ...]:
    spans: list[tuple[float, float]] = []
    listed = raw.get("silent", [])
    if not isinstance(listed, list):
        problem("generate.silent", "must be a list of [from, to] spans")
        return ()
    for i, span in enumerate(listed):
        bounds = [offset(v) for v in span] if isinstance(span, list) and len(span) == 2 else []
        if len(bounds) != 2 or None in bounds:
            problem("generate.silent", f'span {i + 1}: [from, to] in seconds or "H:MM"')
            continue
        start, end = float(bounds[0] or 0), float(bounds[1] or 0)
        if not start < end <= duration:
            problem("generate.silent", f"span {i + 1}: from < to <= the duration")
            continue
        spans.append((start, end))
    return tuple(spans)


def expand(generate: Generate, written: list[Step], problem: Problem) -> list[Step]:
    """The generated steps with the hand-written ones merged in: at every step
    each curve sets its key (a written step's own ``set`` wins for that step)."""
    by_time = {step.at: step for step in written}
    for i, step in enumerate(written):
        if step.at >= generate.duration:
            problem(f"steps[{i}].at", "must lie before the [generate] duration")
        elif generate.is_silent(step.at):
            problem(f"steps[{i}].at", "lies in a silent span of [generate]")
    times: set[float] = set(by_time)
    count = int(generate.duration // generate.every)
    times.update(
        at
        for n in range(count + 1)
        if (at := n * generate.every) < generate.duration and not generate.is_silent(at)
    )
    steps: list[Step] = []
    for at in sorted(times):
        curves = {c.key: c.value(at) for c in generate.curves}
        noise = {c.key: c.noise for c in generate.curves if c.noise}
        own = by_time.get(at)
        if own is None:
            steps.append(Step(at=at, name=clock(at), set=curves, noise=noise))
        else:
            steps.append(
                Step(
                    at=at,
                    name=own.name,
                    set={**curves, **own.set},
                    unset=own.unset,
                    unavailable=own.unavailable,
                    noise={**noise, **own.noise},
                    resend=own.resend,
                    expect=own.expect,
                )
            )
    return steps
