"""What every benchmark script shares: the console, the run's date and machine, the targets' verdict, the JSON file."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console


def machine() -> str:
    """The CPU model, core count, Python version and OS, for the record."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def make_console(width: int = 150) -> Console:
    """A console that wraps at ``width`` columns when the output is not a terminal."""
    return Console(width=None if sys.stdout.isatty() else width)


def new_results() -> dict[str, Any]:
    """The start of a results record: the date (UTC) and :func:`machine`."""
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}


def print_targets(console: Console, targets: Mapping[str, bool]) -> bool:
    """Print PASS or FAIL for each target; return whether all were met."""
    for target, met in targets.items():
        console.print(f"  {'PASS' if met else 'FAIL'}  {target}")
    return all(targets.values())


def save_results(console: Console, results: Mapping[str, Any], path: Path) -> None:
    """Write the results as JSON (under the git-ignored results/ folder) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"results: {path}")
