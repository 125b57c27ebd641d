"""How the processes of a deployment share its work, through Redis; and one process alone.

With Redis each process beats in the deployment's roster (``Membership``). From the roster,
the processes share the axis' connections (``ConnectionBudget``: spec 3.1 allows a system 10,
however many processes it runs) and spread the singleton jobs (``Placement``), each of which
runs behind its leader lock in one process at a time. Without Redis (the embedded mode, one
process) the locks are local and every job runs here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from typing import Any

from redis import asyncio as aioredis

from adapters.redis import Job, LeaderLock, LocalLock, RedisLock, while_leader
from adapters.redis.membership import Membership, RosterObserver, keep_membership
from adapters.redis.placement import Placement
from gateway.delivery.budget import Budgeted, ConnectionBudget

__all__ = ["LEADER_JOBS", "Coordination"]

#: The singleton jobs, the busiest first: they go round the live processes in this order, so
#: with two processes the outbox relay and the webhooks run in different ones.
LEADER_JOBS = ("relay", "webhooks", "evidence", "alerts", "directory", "backup")


class Coordination:
    def __init__(
        self,
        redis: aioredis.Redis | None,
        prefix: str,
        budgeted: Mapping[str, tuple[int, Budgeted]],
    ) -> None:
        """``budgeted``: destination name -> (the deployment's connections, its client)."""
        self._redis, self._prefix = redis, prefix
        self.membership = Membership(redis, prefix) if redis is not None else None
        self.placement: Placement | None = None
        self.budget: ConnectionBudget | None = None
        if self.membership is not None:
            self.placement = Placement(self.membership.member, LEADER_JOBS)
            if budgeted:
                self.budget = ConnectionBudget(budgeted)

    def lock(self, name: str) -> LeaderLock:
        full = f"{self._prefix}:lock:{name}"
        return RedisLock(self._redis, full) if self._redis is not None else LocalLock(full)

    def lead(self, name: str, job: Job, *, stop: asyncio.Event) -> Coroutine[Any, Any, None]:
        """Run ``job`` in the one process of the deployment that holds ``name``'s lock,
        preferably the one its seat names, until ``stop``."""
        seat = self.placement.seat(name) if self.placement is not None else None
        return while_leader(self.lock(name), job, stop=stop, seat=seat)

    async def run(self, *, stop: asyncio.Event) -> None:
        """Beat in the roster and apply each roster, until ``stop``; nothing without Redis."""
        if self.membership is None or self.placement is None:
            return
        observers: list[RosterObserver] = [self.placement]
        if self.budget is not None:
            await self.budget.close_until_known()
            observers.append(self.budget)
        await keep_membership(self.membership, observers, stop=stop)
