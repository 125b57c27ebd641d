"""Processes held to a share of a core each, as a container's CPU limit holds them.

On a machine whose cores the whole deployment shares, a second gateway process can only add
the CPU left idle: what scaling out gives cannot show there. Held to a fixed share each
(the way a worker runs in a container with a CPU limit), each process brings its own CPU,
and the speed-up from one to two says what the gateway's design adds: nothing shared
between the processes may hold them back.

Linux control groups (v2's ``cpu.max``, or v1's CFS quota), which need the right to write
them (root); where that is missing, nothing is held and the caller is told so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["held_to"]

PERIOD_US = 100_000
UNIFIED = Path("/sys/fs/cgroup")
V1_CPU = Path("/sys/fs/cgroup/cpu")


def _root() -> tuple[Path, bool] | None:
    """The control group root to create groups in and whether it is v2; None if none is
    writable here."""
    if "cpu" in _read(UNIFIED / "cgroup.subtree_control").split():
        return UNIFIED, True
    if (V1_CPU / "cpu.cfs_quota_us").exists():
        return V1_CPU, False
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@contextlib.contextmanager
def held_to(pids: Sequence[int], cores: float) -> Iterator[bool]:
    """Hold each process (with every thread it has or starts) to ``cores`` of a core, in a
    group of its own, while the block runs; yields False (holding nothing) where control
    groups cannot be written."""
    root = _root()
    groups: list[Path] = []
    try:
        if root is not None:
            folder, unified = root
            quota = int(cores * PERIOD_US)
            for pid in pids:
                group = folder / f"edxml-bench-{os.getpid()}-{pid}"
                group.mkdir()
                groups.append(group)
                if unified:
                    (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
                else:
                    (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                    (group / "cpu.cfs_quota_us").write_text(str(quota))
                (group / "cgroup.procs").write_text(str(pid))
    except OSError:
        root = None  # not ours to write: run unheld, and say so
    try:
        yield root is not None
    finally:
        for group in groups:
            for running in _read(group / "cgroup.procs").split():  # still running: back out
                with contextlib.suppress(OSError):
                    (group.parent / "cgroup.procs").write_text(running)
            with contextlib.suppress(OSError):
                group.rmdir()
