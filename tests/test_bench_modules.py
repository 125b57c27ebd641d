"""``make bench`` loads every ``bench/*_bench.py`` the way ``bench/run.py`` does; a module
that cannot be loaded that way stops every figure after it. Loading runs no benchmark."""

from __future__ import annotations

import importlib.util
import sys
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
