"""The deployment's connection budget toward a destination, shared by its processes.

The axis allows a system 10 connections (spec 3.1), however many processes the gateway runs.
Each process holds a share (``split_budget`` of the live members in Redis), and its axis
client never has more requests — so never more connections — in flight than the share.
Adding a worker process adds throughput, not connections.

The shares move safely: a process that sees a new member lowers its share at once; one that
may raise its share waits until it has seen the same members on two beats in a row, by when
every other process has beaten once and lowered its own (``keep_membership`` says when a
roster is settled). A process joining starts at 0 for the same reason. A process whose Redis
is unreachable keeps the share it has (the others drop it after three beats and may then
exceed the budget by its share until Redis is back).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from adapters.redis.membership import Roster, split_budget

__all__ = ["Budgeted", "ConnectionBudget"]

log = logging.getLogger(__name__)


class Budgeted(Protocol):
    """A client whose connections can be limited while it runs (``AxisClient``)."""

    @property
    def connection_limit(self) -> int: ...

    async def set_connection_limit(self, connections: int) -> None: ...


@dataclass
class ConnectionBudget:
    """A ``RosterObserver`` (``keep_membership`` tells it each roster)."""

    #: destination name -> (the deployment's budget, its client)
    clients: Mapping[str, tuple[int, Budgeted]]

    async def close_until_known(self) -> None:
        """No connection until the others know this process is here (its first beat)."""
        for _, client in self.clients.values():
            await client.set_connection_limit(0)

    async def on_roster(self, roster: Roster, *, settled: bool) -> None:
        for name, (total, client) in self.clients.items():
            share, current = split_budget(total, roster), client.connection_limit
            if share < current or (share > current and settled):
                log.info(
                    "%s: %d of %d connections for this process (%d processes)",
                    name, share, total, roster.count,
                )  # fmt: skip
                await client.set_connection_limit(share)
