"""``make bench`` loads every ``bench/*_bench.py`` the way ``bench/run.py`` does; a module
that cannot be loaded that way stops every figure after it. Loading runs no benchmark."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_runner_loads_every_benchmark_module() -> None:
    spec = importlib.util.spec_from_file_location("bench_runner", ROOT / "bench" / "run.py")
    assert spec is not None
    assert spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    paths = sorted((ROOT / "bench").glob("*_bench.py"))
    assert len(paths) >= 10
    try:
        for path in paths:
            module = runner._load(path)
            assert callable(getattr(module, "run", None)), path.name
    finally:
        for path in paths:
            sys.modules.pop(path.stem, None)


def test_the_cpu_of_a_part_is_what_its_processes_used() -> None:
    """``bench/cpu_parts.py`` counts a part's processes by pid and the servers by name."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from cpu_parts import SERVERS, CpuParts
    finally:
        sys.path.remove(str(ROOT / "bench"))
    cpu = CpuParts({"bench": [os.getpid()], "gone": [2**22 + 1]})
    cpu.start()
    spent = time.process_time() + 0.3
    while time.process_time() < spent:  # 0.3 s of this process's CPU
        pass
    used = cpu.stop()
    assert set(used) == {"bench", "gone", *SERVERS.values(), "idle", "cores"}
    assert used["gone"] == 0
    assert used["bench"] > 0
    assert 0 <= used["idle"] <= used["cores"]
