"""The public surface of edxml is exactly __all__ (httpx's tested-list pattern).

Its order is kept by ruff (RUF022); this test keeps it complete and free of strays.
"""

from __future__ import annotations

import subprocess
import sys
import types

import edxml


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(edxml).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(edxml.__all__) == public | {"__version__"}
    assert len(edxml.__all__) == len(set(edxml.__all__))


def test_only_package_data_and_private_modules_are_submodules() -> None:
    modules = {name for name, value in vars(edxml).items() if isinstance(value, types.ModuleType)}
    # schemas: package data; pdf: PDF signatures, loaded only when imported (pyhanko)
    assert all(name.startswith("_") or name in {"schemas", "pdf"} for name in modules), modules


def test_the_library_loads_nothing_of_the_service() -> None:
    """``import edxml`` (and its command line) stands alone: no adapters, no gateway, no
    development aids, and pyhanko only for the PDF commands."""
    code = (
        "import sys, edxml, edxml._cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'adapters', 'gateway', 'devtools', 'pyhanko', 'aiohttp', 'sqlalchemy'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_the_exception_tree() -> None:
    assert issubclass(edxml.DocumentError, edxml.EdxmlError)
    assert issubclass(edxml.RecordError, ValueError)
    assert issubclass(edxml.PackageBuildError, ValueError)
    assert not issubclass(edxml.RecordError, edxml.DocumentError)
    assert issubclass(edxml.KeyMaterialError, edxml.EdxmlError)
    assert issubclass(edxml.PdfSignatureError, edxml.EdxmlError)
