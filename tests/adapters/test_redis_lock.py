"""Leader locks on the real Redis: one holder at a time, lost locks stop their job."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from adapters.redis import CoordinationUnavailable, LocalLock, RedisLock, while_leader

REDIS_URL = os.environ.get("EDXML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    opened = aioredis.from_url(REDIS_URL)
    yield opened
    await opened.aclose()


@pytest.fixture
def name() -> str:
    return f"edxml-test:{uuid.uuid4().hex}:poller"


async def test_one_holder_and_expiry(client: aioredis.Redis, name: str) -> None:
    first = RedisLock(client, name, ttl_seconds=0.3)
    second = RedisLock(client, name, ttl_seconds=0.3)
    assert await first.acquire()
    assert not await second.acquire()
    assert await first.renew()
    await second.release()  # not its lock: nothing happens
    assert not await second.acquire()
    await asyncio.sleep(0.4)  # first stopped renewing
    assert await second.acquire()
    assert not await first.renew()  # it cannot extend what second holds now
    await second.release()
    assert await first.acquire()
    await first.release()


async def test_only_one_process_runs_the_job_and_the_other_takes_over(
    client: aioredis.Redis, name: str
) -> None:
    running: list[str] = []
    overlaps = 0
    ran: set[str] = set()

    def job_of(who: str):  # type: ignore[no-untyped-def]
        async def job(job_stop: asyncio.Event) -> None:
            nonlocal overlaps
            running.append(who)
            ran.add(who)
            overlaps = max(overlaps, len(running))
            await job_stop.wait()
            running.remove(who)

        return job

    stops = {who: asyncio.Event() for who in ("a", "b")}
    tasks = {
        who: asyncio.create_task(
            while_leader(
                RedisLock(client, name, ttl_seconds=0.5),
                job_of(who),
                stop=stops[who],
                renew_every=0.05,
            )
        )
        for who in stops
    }
    await asyncio.sleep(0.3)
    assert len(running) == 1
    leader = running[0]
    stops[leader].set()
    await tasks[leader]
    await asyncio.sleep(0.3)
    assert running == [next(who for who in stops if who != leader)]
    for stop in stops.values():
        stop.set()
    await asyncio.gather(*tasks.values())
    assert overlaps == 1
    assert ran == {"a", "b"}


async def test_an_unreachable_redis_is_a_transport_error() -> None:
    unreachable = aioredis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(CoordinationUnavailable):
            await RedisLock(unreachable, "x").acquire()
    finally:
        await unreachable.aclose()
    assert await LocalLock("x").acquire()
