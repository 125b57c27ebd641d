"""A service process bounds glibc's malloc arenas before it starts threads: memory a burst
freed in a thread's own arena stays resident, and the service did not come back down."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.operate.memory import ARENAS

ROOT = Path(__file__).resolve().parents[2]

_PROBE = textwrap.dedent(
    """
    import ctypes, ctypes.util, sys, threading
    from gateway.operate.memory import bound_arenas
    if sys.argv[1] == "bound":
        assert bound_arenas()
    barrier = threading.Barrier(8)
    def allocate():
        barrier.wait()  # all at once: each thread that finds the arenas busy gets one
        for _ in range(2000):
            blocks = [bytearray(1000) for _ in range(50)]
            del blocks
    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ctypes.CDLL(ctypes.util.find_library("c")).malloc_stats()  # one "Arena N:" per arena
    """
)


def _arenas(mode: str, **env: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env,
        capture_output=True,
        text=True,
        check=True,
    )
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_eight_threads_allocating_at_once_share_the_bounded_arenas() -> None:
    assert _arenas("free") > ARENAS  # what glibc does unbounded: the check can tell
    assert _arenas("bound") <= ARENAS


def test_an_operator_s_malloc_arena_max_is_left_to_decide() -> None:
    probe = "from gateway.operate.memory import bound_arenas; print(bound_arenas())"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "MALLOC_ARENA_MAX": "4"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"
