"""How many requests a destination gets at once, across every process of a deployment.

A recovering axis must not be hit by the retry storm of every worker. Each process
already caps its own requests per destination; ``RedisLimit`` caps the deployment's: a
sorted set per destination holds one member per request in flight, scored by when its slot
expires, so a process that dies mid-request frees its slots after ``ttl`` seconds. Taking a
slot is one Lua script (clean expired, count, add), so two processes cannot both take the
last one. ``LocalLimit`` is the embedded mode's (an asyncio semaphore).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from adapters.redis.lock import CoordinationUnavailable

__all__ = ["DestinationLimit", "LocalLimit", "RedisLimit"]

_TAKE = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('zadd', KEYS[1], ARGV[3], ARGV[4])
  redis.call('pexpire', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


class DestinationLimit(Protocol):
    def slot(self, destination: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class LocalLimit:
    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, destination: str) -> AsyncIterator[None]:
        semaphore = self._semaphores.setdefault(destination, asyncio.Semaphore(self._limit))
        async with semaphore:
            yield


class RedisLimit:
    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        limit: int,
        *,
        ttl_seconds: float = 300.0,
        poll_seconds: float = 0.05,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._limit = limit
        self._ttl = ttl_seconds
        self._poll = poll_seconds

    async def _take(self, key: str, member: str) -> bool:
        now = time.time()
        try:
            taken = await self._client.eval(  # type: ignore[misc]
                _TAKE, 1, key, str(now), str(self._limit), str(now + self._ttl), member,
                str(int(self._ttl * 1000)),
            )  # fmt: skip
        except (redis_errors.RedisError, OSError) as exc:
            raise CoordinationUnavailable(f"Redis: {exc}") from exc
        return bool(taken)

    @contextlib.asynccontextmanager
    async def slot(self, destination: str) -> AsyncIterator[None]:
        key = f"{self._prefix}:inflight:{destination}"
        member = uuid.uuid4().hex
        while not await self._take(key, member):
            await asyncio.sleep(self._poll)
        try:
            yield
        finally:
            with contextlib.suppress(redis_errors.RedisError, OSError):
                await self._client.zrem(key, member)
