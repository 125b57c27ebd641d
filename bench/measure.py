"""What the benchmarks share: interleaved medians, and peak RSS in a fresh process."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

MIB = 1024 * 1024


def interleaved_medians(tasks: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each task, run in turn (after one warm-up) so noise hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in tasks}
    for task in tasks.values():
        task()
    for _ in range(repeats):
        for name, task in tasks.items():
            start = time.perf_counter()
            task()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def peak_rss() -> int:
    """High-water RSS of this address space. Not getrusage's ru_maxrss: Linux carries that
    over from the parent across fork and exec, so a child would report the parent's peak."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def in_fresh_process(script: str, *args: str) -> dict[str, float]:
    """Run ``script --child args...``; it prints one JSON object as its last line."""
    output = subprocess.run(
        [sys.executable, script, "--child", *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def memory_figures(
    prefix: str, result: dict[str, float], size: int
) -> list[tuple[str, float, str]]:
    return [
        (f"{prefix}_seconds", round(result["seconds"], 3), "s"),
        (f"{prefix}_peak_rss_mb", round(result["peak"] / MIB, 1), "MiB"),
        (f"{prefix}_peak_rss_ratio", round(result["peak"] / size, 2), "x attachment"),
    ]
