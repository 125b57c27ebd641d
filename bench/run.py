"""``make bench``: run every benchmark module, print ``bench <name> <value> <unit>`` lines and
write them all to ``bench/results.json``.

A benchmark module is ``bench/*_bench.py`` with ``run() -> list[Figure]``. Figures that are
targets are ratios to a floor measured in the same run (these machines are shared and noisy),
never absolute timings.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import platform
import sys
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent


class Figure(NamedTuple):
    name: str
    value: float
    unit: str


def _load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # registered before it runs, as an import would: dataclasses look their module up there
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    selected = set(argv)
    figures: list[Figure] = []
    for path in sorted(HERE.glob("*_bench.py")):
        if selected and path.stem not in selected:
            continue
        module = _load(path)
        for row in module.run():  # type: ignore[attr-defined]
            figure = Figure(*row)
            print(f"bench {figure.name} {figure.value:g} {figure.unit}", flush=True)
            figures.append(figure)
    results = {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "figures": {
            figure.name: {"value": figure.value, "unit": figure.unit} for figure in figures
        },
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
