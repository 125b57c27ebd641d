"""``make bench`` loads every ``bench/*_bench.py`` the way ``bench/run.py`` does; a module
that cannot be loaded that way stops every figure after it. Loading runs no benchmark."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.fixture
def bench_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench/`` importable for the test, as ``bench/run.py`` makes it for its modules."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))


@pytest.mark.usefixtures("bench_modules")
def test_the_cpu_of_a_part_is_what_its_processes_used() -> None:
    """``bench/cpu_parts.py`` counts a part's processes by pid and the servers by name."""
    from cpu_parts import SERVERS, CpuParts

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


@pytest.mark.usefixtures("bench_modules")
def test_a_process_held_to_a_share_of_a_core_gets_no_more() -> None:
    """``bench/cpu_quota.py`` holds a busy process to a tenth of a core where control groups
    can be written, and leaves no group behind either way."""
    from cpu_parts import TICKS_PER_S, _process_jiffies
    from cpu_quota import V1_CPU, held_to

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with held_to([busy.pid], 0.1) as held:
            time.sleep(0.3)  # let the quota take hold
            before = _process_jiffies(busy.pid)
            time.sleep(1.0)
            after = _process_jiffies(busy.pid)
        assert before is not None
        assert after is not None
        used = (after[1] - before[1]) / TICKS_PER_S
        if held:
            assert used < 0.3, used  # a free busy loop takes a whole core
        else:
            assert used >= 0.3, used
    finally:
        busy.kill()
        busy.wait()
    leftovers = [*Path("/sys/fs/cgroup").glob("edxml-bench-*"), *V1_CPU.glob("edxml-bench-*")]
    assert not leftovers
