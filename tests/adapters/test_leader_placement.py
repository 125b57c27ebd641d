"""The singleton jobs spread over the live processes (real Redis): each job runs in one
process at a time, the busiest go to different processes, a job moves when its seat does,
and no job waits for a seated process that does not run it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis import asyncio as aioredis

from adapters.redis import RedisLock, while_leader
from adapters.redis.membership import Membership, Roster, keep_membership
from adapters.redis.placement import Placement

REDIS_URL = os.environ.get("EDXML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BEAT = 0.05
ROUND = 0.1  # a leader lock's renewal round
JOBS = ("relay", "webhooks", "evidence", "alerts")


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    opened = aioredis.from_url(REDIS_URL)
    yield opened
    await opened.aclose()


class Deployment:
    """Processes in one task each: a roster beat and a leader loop per job they run."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.prefix = f"edxml-test-{uuid.uuid4().hex[:8]}"
        self.running: dict[str, set[str]] = {}  # job -> the processes running it now
        self.overlaps: list[str] = []
        self.stops: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, list[asyncio.Task[None]]] = {}

    def start(self, process: str, jobs: tuple[str, ...] = JOBS) -> None:
        membership = Membership(self.redis, self.prefix, heartbeat_seconds=BEAT, member=process)
        placement = Placement(process, JOBS)
        stop = self.stops[process] = asyncio.Event()
        tasks = [asyncio.create_task(keep_membership(membership, [placement], stop=stop))]
        for name in jobs:
            lock = RedisLock(self.redis, f"{self.prefix}:lock:{name}", ttl_seconds=ROUND * 3)
            job = self._job(name, process)
            seat = placement.seat(name)
            tasks.append(
                asyncio.create_task(
                    while_leader(lock, job, stop=stop, renew_every=ROUND, seat=seat)
                )
            )
        self.tasks[process] = tasks

    def _job(self, name: str, process: str) -> Callable[[asyncio.Event], object]:
        async def job(job_stop: asyncio.Event) -> None:
            holders = self.running.setdefault(name, set())
            holders.add(process)
            if len(holders) > 1:
                self.overlaps.append(name)
            await job_stop.wait()
            holders.discard(process)

        return job

    async def stop(self, process: str) -> None:
        self.stops[process].set()
        await asyncio.gather(*self.tasks.pop(process))

    def where(self) -> dict[str, set[str]]:
        return {name: set(holders) for name, holders in self.running.items() if holders}

    async def close(self) -> None:
        for process in list(self.tasks):
            await self.stop(process)
        await self.redis.delete(f"{self.prefix}:members")


@pytest.fixture
async def deployment(redis: aioredis.Redis) -> AsyncIterator[Deployment]:
    opened = Deployment(redis)
    yield opened
    await opened.close()


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> float:
    """How long ``condition`` took to hold; fails after ``seconds``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not condition():
        assert loop.time() - start < seconds, "not settled in time"
        await asyncio.sleep(0.01)
    return loop.time() - start


def _by_process(where: dict[str, set[str]]) -> dict[str, set[str]]:
    jobs: dict[str, set[str]] = {}
    for name, holders in where.items():
        for process in holders:
            jobs.setdefault(process, set()).add(name)
    return jobs


async def test_a_second_process_takes_half_the_jobs_and_the_busiest_two_apart(
    deployment: Deployment,
) -> None:
    deployment.start("a")
    await _until(lambda: deployment.where() == {name: {"a"} for name in JOBS})
    deployment.start("b")

    def spread() -> bool:
        jobs = _by_process(deployment.where())
        return sorted(len(held) for held in jobs.values()) == [2, 2]

    await _until(spread)
    jobs = _by_process(deployment.where())
    relay_at = next(iter(deployment.where()["relay"]))
    assert "webhooks" not in jobs[relay_at]
    await asyncio.sleep(ROUND * 10)  # and they stay there
    assert _by_process(deployment.where()) == jobs
    await deployment.stop("b")  # its jobs come back to the one left
    await _until(lambda: deployment.where() == {name: {"a"} for name in JOBS})
    assert deployment.overlaps == []


async def test_a_lone_process_takes_its_jobs_at_once(deployment: Deployment) -> None:
    deployment.start("a")
    took = await _until(lambda: len(deployment.where()) == len(JOBS))
    assert took < ROUND  # at its first attempt: no round is left to any other


async def test_a_job_seated_on_a_process_that_does_not_run_it_is_taken_by_one_that_does(
    deployment: Deployment,
) -> None:
    deployment.start("a", jobs=("relay",))
    deployment.start("b")
    await _until(lambda: set(deployment.where()) == set(JOBS))
    await asyncio.sleep(ROUND * 10)  # no job is handed back and forth
    where = deployment.where()
    assert all(len(holders) == 1 for holders in where.values())
    assert {holder for name, holders in where.items() if name != "relay" for holder in holders} == {
        "b"
    }
    assert deployment.overlaps == []


async def test_the_seats_follow_a_settled_roster_only() -> None:
    placement = Placement("a", JOBS)
    assert placement.seat("relay").here() is None  # no roster yet: any process may lead
    changed = placement.changed()
    both = Roster(("a", "b"), "a")
    await placement.on_roster(both, settled=False)
    assert placement.seat("relay").here() is None
    assert not changed.is_set()
    await placement.on_roster(both, settled=True)
    assert changed.is_set()
    here = {name: placement.seat(name).here() for name in JOBS}
    assert here == {"relay": True, "webhooks": False, "evidence": True, "alerts": False}
    assert placement.seat("poll:lgsp").here() == placement.seat("poll:lgsp").here()
