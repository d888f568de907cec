"""How the runner prints: a header naming the machine and the sizes, a line per
result as it comes, and the markdown table bench/README.md keeps."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime

Row = tuple[str, str, str, str, str]
"""benchmark, size, result, baseline (same run), ratio."""

Show = Callable[[str, dict[str, object]], None]
"""Prints one benchmark's raw result as soon as it is measured."""


def header(quick: bool) -> str:
    return (
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {'quick' if quick else 'full'} sizes"
    )


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| benchmark | size | result | baseline (same run) | ratio |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
