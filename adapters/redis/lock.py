"""Leader locks: only one process polls the axis, only one relays the outbox.

``RedisLock`` is the usual single-instance Redis lock: ``SET key token NX PX ttl`` to take it,
a compare-and-extend script to renew it, a compare-and-delete script to release it, so a
process can never extend or free a lock that expired and was taken by another. A holder that
stops renewing (it died, it lost Redis) loses the lock within ``ttl``, and ``while_leader``
stops its job as soon as a renewal fails. ``LocalLock`` is the embedded mode's: one process,
always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from adapters.errors import TransportError

__all__ = ["CoordinationUnavailable", "LeaderLock", "LocalLock", "RedisLock", "while_leader"]

log = logging.getLogger(__name__)

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class CoordinationUnavailable(TransportError):
    """Redis could not be reached: act as if the lock was not held."""


class LeaderLock(Protocol):
    name: str

    async def acquire(self) -> bool: ...

    async def renew(self) -> bool: ...

    async def release(self) -> None: ...


class LocalLock:
    def __init__(self, name: str) -> None:
        self.name = name

    async def acquire(self) -> bool:
        return True

    async def renew(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class RedisLock:
    def __init__(self, client: aioredis.Redis, name: str, *, ttl_seconds: float = 15.0) -> None:
        self.name = name
        self._client = client
        self._token = uuid.uuid4().hex
        self._ttl_ms = int(ttl_seconds * 1000)

    async def _call(self, operation: object) -> object:
        try:
            return await operation if inspect.isawaitable(operation) else operation
        except (redis_errors.RedisError, OSError) as exc:
            raise CoordinationUnavailable(f"Redis: {exc}") from exc

    async def acquire(self) -> bool:
        taken = await self._call(self._client.set(self.name, self._token, nx=True, px=self._ttl_ms))
        return bool(taken)

    async def renew(self) -> bool:
        renewal = self._client.eval(_RENEW, 1, self.name, self._token, str(self._ttl_ms))
        return bool(await self._call(renewal))

    async def release(self) -> None:
        await self._call(self._client.eval(_RELEASE, 1, self.name, self._token))


async def while_leader(
    lock: LeaderLock,
    job: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    *,
    stop: asyncio.Event,
    renew_every: float = 5.0,
) -> None:
    """Run ``job(job_stop)`` whenever this process holds ``lock``, until ``stop``.

    Tries to take the lock every ``renew_every`` seconds; once held, renews it at that pace
    and sets ``job_stop`` (waiting for the job to end) the moment a renewal fails.
    """
    while not stop.is_set():
        try:
            held = await lock.acquire()
        except CoordinationUnavailable as exc:
            log.warning("lock %s: %s", lock.name, exc)
            held = False
        if held:
            log.info("lock %s acquired: this process runs its job", lock.name)
            job_stop = asyncio.Event()
            task = asyncio.create_task(job(job_stop))
            try:
                while not stop.is_set() and not task.done():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), renew_every)
                    if stop.is_set():
                        break
                    try:
                        if not await lock.renew():
                            log.warning("lock %s was lost; stopping its job", lock.name)
                            break
                    except CoordinationUnavailable as exc:
                        log.warning("lock %s: %s; stopping its job", lock.name, exc)
                        break
            finally:
                job_stop.set()
                await asyncio.gather(task, return_exceptions=True)
                with contextlib.suppress(CoordinationUnavailable):
                    await lock.release()
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), renew_every)
