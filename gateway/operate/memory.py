"""Giving memory back after a burst.

A burst of large documents leaves glibc's heap full of freed blocks it keeps for reuse: the
process's resident size stays at its peak (seen: 170 MB idle, 370+ MB for ever after a load).
``malloc_trim`` returns what is free at the top of each arena to the system; called every few
seconds it costs microseconds when there is nothing to give back. Other C libraries (musl)
have no such call, and the task then does nothing.

glibc also gives a thread that allocates while another does an arena of its own, up to
eight per core, and what a burst frees in those arenas stays resident: with the building
threads, the store's thread and the event loop each in one, a service rested at twice its
idle size after a load. ``bound_arenas`` limits them to two (unless ``MALLOC_ARENA_MAX``
is set), before the service starts any thread: measured, the same load left it within a
tenth of its idle size, at the same rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import Callable
from typing import Any

__all__ = ["ARENAS", "bound_arenas", "trim_memory_forever"]

log = logging.getLogger(__name__)

#: The malloc arenas a service process may have (glibc's ``M_ARENA_MAX``).
ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once (``find_library`` asks ``ldconfig``)."""
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    with contextlib.suppress(OSError):
        return ctypes.CDLL(library)
    return None


def _libc_function(name: str) -> Callable[..., Any] | None:
    libc = _libc()
    if libc is None:
        return None
    with contextlib.suppress(AttributeError):
        function: Callable[..., Any] = getattr(libc, name)
        return function
    return None


def _malloc_trim() -> Callable[[int], int] | None:
    return _libc_function("malloc_trim")


def bound_arenas(count: int = ARENAS) -> bool:
    """Limit this process to ``count`` malloc arenas, before it starts threads; False where
    ``MALLOC_ARENA_MAX`` already decides or the C library is not glibc."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    mallopt = _libc_function("mallopt")
    return mallopt is not None and mallopt(_M_ARENA_MAX, count) == 1


async def trim_memory_forever(*, stop: asyncio.Event, every_seconds: float = 10.0) -> None:
    trim = _malloc_trim()
    if trim is None:
        log.info("no malloc_trim in this C library: freed memory stays with the process")
        return
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_seconds)
        await asyncio.to_thread(trim, 0)
