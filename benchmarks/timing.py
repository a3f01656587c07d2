"""Per-call timings of in-process benchmarks: run a function over sample arguments, summarise in µs."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def call_timings(function: Callable[[Any], Any], arguments: Sequence[Any], calls: int) -> list[float]:
    """Microseconds of each of `calls` calls, cycling through `arguments`."""
    timings = []
    clock = time.perf_counter_ns
    for index in range(calls):
        argument = arguments[index % len(arguments)]
        started = clock()
        function(argument)
        timings.append((clock() - started) / 1000.0)
    return timings


def timing_summary(name: str, timings: Sequence[float]) -> dict[str, Any]:
    """Median and p99 (µs) of one path's timings, as a report row."""
    ordered = sorted(timings)
    return {"path": name, "median_us": statistics.median(ordered),
            "p99_us": ordered[max(int(len(ordered) * 0.99) - 1, 0)], "calls": len(ordered)}


def checks_report(*, path: Path, checks: dict[str, bool], document: dict[str, Any]) -> int:
    """Print PASS/FAIL per check, write the JSON report (with the checks and the CPU count); exit status."""
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**document, "checks": checks, "cpu_count": os.cpu_count()}, indent=2))
    print(f"\nwritten {path}")
    return 0 if all(checks.values()) else 1
