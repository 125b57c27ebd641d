"""Leader locks: only one process polls the axis, only one relays the outbox.

``RedisLock`` is the usual single-instance Redis lock: ``SET key token NX PX ttl`` to take it,
a compare-and-extend script to renew it, a compare-and-delete script to release it, so a
process can never extend or free a lock that expired and was taken by another. A holder that
stops renewing (it died, it lost Redis) loses the lock within ``ttl``, and ``while_leader``
stops its job as soon as a renewal fails; given a ``Seat``, it leaves the lock to the process
the deployment's ``Placement`` seats for the job. ``LocalLock`` is the embedded mode's: one process,
always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from adapters.errors import TransportError
from adapters.waiting import until_any

if TYPE_CHECKING:
    from adapters.redis.placement import Seat

__all__ = [
    "CoordinationUnavailable",
    "Job",
    "LeaderLock",
    "LocalLock",
    "RedisLock",
    "while_leader",
]

#: A leader's job: runs until the event it is given is set
Job = Callable[[asyncio.Event], Coroutine[Any, Any, None]]

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
    job: Job,
    *,
    stop: asyncio.Event,
    renew_every: float = 5.0,
    seat: Seat | None = None,
) -> None:
    """Run ``job(job_stop)`` whenever this process holds ``lock``, until ``stop``.

    Tries to take the lock every ``renew_every`` seconds; once held, renews it at that pace
    and sets ``job_stop`` (waiting for the job to end) the moment a renewal fails.

    With a ``seat`` (``Placement``), the process seated for the job tries five times as often,
    and any other tries every other round, so it takes only a lock that nobody seated took.
    A holder not seated hands the lock over when the seats move, once per move: if the
    seated process does not take it, the holder takes it back and keeps it.
    """
    passed = False
    handed_over = -1  # the seat generation in which this process last handed the job over
    while not stop.is_set():
        here = seat.here() if seat is not None else None
        if here is False and not passed:
            passed = True  # leave the seated process a round to take it
            await _pause(stop, seat, renew_every)
            continue
        passed = False
        try:
            held = await lock.acquire()
        except CoordinationUnavailable as exc:
            log.warning("lock %s: %s", lock.name, exc)
            held = False
        if not held:
            await _pause(stop, seat, renew_every / 5 if here else renew_every)
            continue
        log.info("lock %s acquired: this process runs its job", lock.name)
        job_stop = asyncio.Event()
        task = asyncio.create_task(job(job_stop))
        try:
            while not stop.is_set() and not task.done():
                await _pause(stop, seat, renew_every)
                if stop.is_set():
                    break
                if seat is not None and seat.here() is False and handed_over != seat.generation:
                    handed_over = seat.generation
                    log.info("lock %s: handed over to the process seated for it", lock.name)
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


async def _pause(stop: asyncio.Event, seat: Seat | None, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set or the seats move."""
    await until_any(stop, seat.changed() if seat is not None else None, timeout=seconds)
