"""The shape of the code is part of what the suite checks: modules stay small, and the
layering (edxml alone; adapters below the service; the service's rooms top to bottom; no
development aids in production) holds — the import-linter contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edxml", "adapters", "gateway", "devtools")
#: The most lines a module may have: past this it does more than one job.
MAX_MODULE_LINES = 400


def test_no_module_is_over_the_limit() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    assert len(sizes) > 100
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_big, f"split these by job (limit {MAX_MODULE_LINES} lines): {too_big}"


def test_the_import_contracts_hold() -> None:
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert linter is not None, "import-linter is a dev dependency (pip install -e '.[dev]')"
    result = subprocess.run(
        [linter], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert ", 0 broken" in result.stdout
