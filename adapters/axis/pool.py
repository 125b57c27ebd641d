"""Connections to the axis whose number can change while requests run.

The axis allows a system at most 10 connections (spec 3.1), and a deployment of several
processes must share them: each process gets a share, which changes as processes come and go
(``gateway.delivery.budget``). ``SessionPool.limit`` bounds the requests in flight — every
request holds one connection, and an aiohttp session never opens more connections than it
has had requests at once — so lowering it bounds the connections too, once the idle ones of
the larger pool are closed: lowering retires the session (its idle connections close as
soon as its last request ends) and opens a new one sized to the new limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import aiohttp

__all__ = ["SessionPool"]


class _Gate:
    """A semaphore whose capacity can change; 0 holds every caller until it grows."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.taken = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.taken < self.capacity)
            self.taken += 1

    async def release(self) -> None:
        async with self._changed:
            self.taken -= 1
            self._changed.notify()

    async def resize(self, capacity: int) -> None:
        async with self._changed:
            self.capacity = capacity
            self._changed.notify_all()


class SessionPool:
    """``async with pool.session() as session: ...`` within the current limit."""

    def __init__(self, make: Callable[[int], aiohttp.ClientSession], limit: int) -> None:
        self._make = make
        self._gate = _Gate(limit)
        self._session = make(max(limit, 1))
        self._users: dict[aiohttp.ClientSession, int] = {self._session: 0}
        self._retired: set[aiohttp.ClientSession] = set()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def limit(self) -> int:
        return self._gate.capacity

    @property
    def in_flight(self) -> int:
        return self._gate.taken

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[aiohttp.ClientSession]:
        await self._gate.acquire()
        session = self._session
        self._users[session] += 1
        try:
            yield session
        finally:
            self._users[session] -= 1
            if session in self._retired and not self._users[session]:
                self._close(session)  # in the background: this caller has its answer
            await self._gate.release()

    async def set_limit(self, limit: int) -> None:
        """New requests wait until fewer than ``limit`` are in flight; a lower limit also
        closes the connections beyond it (the old session, once its requests are done)."""
        lowered = limit < self._gate.capacity
        await self._gate.resize(limit)
        if lowered and limit > 0:
            old, self._session = self._session, self._make(limit)
            self._users[self._session] = 0
            self._retired.add(old)
            if not self._users[old]:
                await self._close(old)

    def _close(self, session: aiohttp.ClientSession) -> asyncio.Task[None]:
        self._retired.discard(session)
        del self._users[session]
        task = asyncio.ensure_future(session.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    async def aclose(self) -> None:
        for session in list(self._users):
            self._close(session)
        await asyncio.gather(*self._closing, return_exceptions=True)
