"""The deployment's connection budget toward a destination, shared by its processes.

The axis allows a system 10 connections (spec 3.1), however many processes the gateway runs.
Each process holds a share (``split_budget`` of the live members in Redis), and its axis
client never has more requests — so never more connections — in flight than the share.
Adding a worker process adds throughput, not connections.

The shares move safely: a process that sees a new member lowers its share at once; one that
may raise its share waits until it has seen the same members on two beats in a row, by when
every other process has beaten once and lowered its own. A process joining starts at 0 for
the same reason. A process whose Redis is unreachable keeps the share it has (the others drop
it after three beats and may then exceed the budget by its share until Redis is back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from adapters.redis.lock import CoordinationUnavailable
from adapters.redis.membership import Membership, Roster, split_budget

__all__ = ["Budgeted", "ConnectionBudget"]

log = logging.getLogger(__name__)


class Budgeted(Protocol):
    """A client whose connections can be limited while it runs (``AxisClient``)."""

    @property
    def connection_limit(self) -> int: ...

    async def set_connection_limit(self, connections: int) -> None: ...


@dataclass
class ConnectionBudget:
    membership: Membership
    #: destination name -> (the deployment's budget, its client)
    clients: Mapping[str, tuple[int, Budgeted]]

    async def run(self, *, stop: asyncio.Event) -> None:
        for _, client in self.clients.values():
            await client.set_connection_limit(0)  # until the others know this process is here
        seen: Roster | None = None
        try:
            while not stop.is_set():
                try:
                    roster = await self.membership.beat()
                except CoordinationUnavailable as exc:
                    log.warning("connection budget: %s; keeping the current shares", exc)
                else:
                    await self._apply(roster, settled=roster == seen)
                    seen = roster
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.membership.heartbeat_seconds)
        finally:
            with contextlib.suppress(CoordinationUnavailable):
                await self.membership.leave()

    async def _apply(self, roster: Roster, *, settled: bool) -> None:
        for name, (total, client) in self.clients.items():
            share, current = split_budget(total, roster), client.connection_limit
            if share < current or (share > current and settled):
                log.info(
                    "%s: %d of %d connections for this process (%d processes)",
                    name, share, total, roster.count,
                )  # fmt: skip
                await client.set_connection_limit(share)
