"""Waiting on whichever of several events comes first."""

from __future__ import annotations

import asyncio

__all__ = ["until_any"]


async def until_any(*events: asyncio.Event | None, timeout: float) -> None:
    """Return when one of ``events`` is set, or after ``timeout`` seconds (``None`` entries
    are ignored): a loop that idles between passes still stops, or wakes, at once."""
    waits = [asyncio.ensure_future(event.wait()) for event in events if event is not None]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
