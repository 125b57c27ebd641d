"""Progress bars for the long command-line operations (backup, restore, send, retention).

tqdm, on stderr, so stdout stays the command's answer for scripts. A bar is drawn only on
a terminal; ``EDXML_PROGRESS=1`` forces it (logs of a supervised run, the tests) and
``EDXML_PROGRESS=0`` silences it.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

__all__ = ["CountingReader", "bar", "enabled"]


def enabled() -> bool:
    forced = os.environ.get("EDXML_PROGRESS")
    if forced in ("0", "1"):
        return forced == "1"
    return sys.stderr.isatty()


def bar(description: str, total: float | None, *, unit: str = "B") -> tqdm[Any]:
    """A bar of ``total`` units (bytes by default, scaled to KB/MB)."""
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=unit == "B",
        unit_divisor=1024 if unit == "B" else 1000,
        disable=not enabled(),
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.2,
    )


class CountingReader(io.BufferedReader):
    """A file opened for reading that advances ``progress`` by what is read: an upload's
    bar, since aiohttp streams a ``BufferedReader`` part by calling ``read``."""

    def __init__(self, path: Path, progress: tqdm[Any]) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._progress = progress

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self._progress.update(len(chunk))
        return chunk
