"""The deployment's connection budget: processes split it (Redis), never exceed it while
they come and go, and the axis client keeps to its share on the wire."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from redis import asyncio as aioredis

from adapters.redis.membership import Membership, Roster, keep_membership, split_budget
from devtools.axis_simulator import AxisSimulator, FaultPlan
from gateway.delivery.budget import ConnectionBudget
from tests.adapters.conftest import client_for, simulator_config

REDIS_URL = os.environ.get("EDXML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BEAT = 0.05


def _roster(rank: int, count: int) -> Roster:
    members = tuple(f"process-{number:02}" for number in range(count))
    return Roster(members, members[rank])


@pytest.mark.parametrize("total", [1, 3, 10])
def test_the_shares_sum_to_the_budget_and_differ_by_one_at_most(total: int) -> None:
    for count in range(1, total + 1):
        shares = [split_budget(total, _roster(rank, count)) for rank in range(count)]
        assert sum(shares) == total
        assert max(shares) - min(shares) <= 1
    assert [split_budget(total, _roster(rank, total + 2)) for rank in range(total + 2)] == [1] * (
        total + 2
    )


class Ledger:
    """What every process's client is allowed at once, checked at each change."""

    def __init__(self) -> None:
        self.limits: dict[str, int] = {}
        self.peak = 0

    def client(self, name: str) -> FakeClient:
        return FakeClient(self, name)


class FakeClient:
    def __init__(self, ledger: Ledger, name: str) -> None:
        self.ledger, self.name = ledger, name
        ledger.limits[name] = 10  # a process starts with the configured maximum

    @property
    def connection_limit(self) -> int:
        return self.ledger.limits[self.name]

    async def set_connection_limit(self, connections: int) -> None:
        self.ledger.limits[self.name] = connections
        started = [limit for name, limit in self.ledger.limits.items() if name in RUNNING]
        self.ledger.peak = max(self.ledger.peak, sum(started))


RUNNING: set[str] = set()


async def _until(condition: object, seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "not settled in time"
        await asyncio.sleep(BEAT / 2)


async def test_processes_share_ten_connections_as_they_come_and_go() -> None:
    redis = aioredis.from_url(REDIS_URL)
    prefix = f"edxml-test-{uuid.uuid4().hex[:8]}"
    ledger = Ledger()
    stops: dict[str, asyncio.Event] = {}
    tasks: dict[str, asyncio.Task[None]] = {}

    def start(name: str) -> None:
        RUNNING.add(name)
        membership = Membership(redis, prefix, heartbeat_seconds=BEAT, member=name)
        budget = ConnectionBudget({"axis": (10, ledger.client(name))})
        stops[name] = asyncio.Event()

        async def run(stop: asyncio.Event) -> None:
            await budget.close_until_known()
            await keep_membership(membership, [budget], stop=stop)

        tasks[name] = asyncio.create_task(run(stops[name]))

    def total() -> int:
        return sum(ledger.limits[name] for name in RUNNING)

    try:
        start("a")
        await _until(lambda: ledger.limits["a"] == 10)
        start("b")
        await _until(lambda: sorted(ledger.limits[n] for n in RUNNING) == [5, 5])
        start("c")
        await _until(lambda: sorted(ledger.limits[n] for n in RUNNING) == [3, 3, 4])
        stops["b"].set()
        await tasks["b"]
        RUNNING.discard("b")
        await _until(lambda: sorted(ledger.limits[n] for n in RUNNING) == [5, 5])
        tasks["c"].cancel()  # dies without leaving: dropped after three beats
        RUNNING.discard("c")
        await _until(lambda: ledger.limits["a"] == 10)
        assert ledger.peak <= 10
        assert total() == 10
    finally:
        for name, stop in stops.items():
            stop.set()
            RUNNING.discard(name)
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await redis.delete(f"{prefix}:members")
        await redis.aclose()


async def test_the_axis_client_never_opens_more_connections_than_its_share() -> None:
    """Counted by the simulator as each connection opens and closes: no peak is missed."""
    config = simulator_config(faults=FaultPlan(latency_ms=40))
    async with (
        AxisSimulator(config) as simulator,
        client_for(simulator, "000.00.00.G22") as axis,
    ):
        counted = simulator.connections

        async def calls(limit: int, count: int = 24) -> int:
            await axis.set_connection_limit(limit)
            await asyncio.sleep(0.05)  # the simulator sees the closed ones go
            counted.reset()
            await asyncio.gather(*(axis.received_list() for _ in range(count)))
            return counted.peak

        assert 1 < await calls(6) <= 6
        assert 1 <= await calls(2) <= 2  # lowered: the six of before closed, two used
        await asyncio.sleep(0.1)
        assert counted.open <= 2
        assert axis.connection_limit == 2
        await axis.set_connection_limit(50)
        assert axis.connection_limit == 10  # never beyond the configured maximum
