"""Which live process should lead each singleton job, so that the jobs spread over a deployment.

A leader lock alone lets the first process to start take every job (the outbox relay, the
webhooks, the evidence log, the alerts …) and do their work on top of its share of the
deliveries, while the others only deliver: with each process held to a share of a core, as a
container is, that one process bounds the whole deployment. A ``Placement`` seats each job on
one live member of the roster: the jobs in ``order`` go round the members in turn, so the
busiest ones (first in ``order``) land on different processes; a job not in ``order`` gets a
seat from a stable hash of its name. Every process computes the same seats from the same
roster, and only from a settled one (``keep_membership``).

A seat is a preference, not a lock: ``while_leader`` lets the seated process take the lock at
once, lets another take it only when it stayed free for a round (the seated process may not
run that job, or may be dying), and has a holder hand the lock over once when the roster
moves the seat elsewhere.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.redis.membership import Roster

__all__ = ["Placement", "Seat"]


class Placement:
    """A ``RosterObserver``: the seats of the jobs, from the last settled roster."""

    def __init__(self, member: str, order: Sequence[str] = ()) -> None:
        self._member = member
        self._order = tuple(order)
        self._members: tuple[str, ...] = ()
        self._changed = asyncio.Event()
        #: how many times the seats have moved; a holder hands a job over once per generation
        self.generation = 0

    async def on_roster(self, roster: Roster, *, settled: bool) -> None:
        if settled and roster.members != self._members:
            self._members = roster.members
            self.generation += 1
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def seat(self, job: str) -> Seat:
        if job in self._order:
            slot = self._order.index(job)
        else:
            slot = len(self._order) + zlib.crc32(job.encode())
        return Seat(self, slot)

    def here(self, slot: int) -> bool | None:
        """Whether this process holds ``slot``'s seat; None before a roster is known, or
        while this process is not in it (then any process may lead)."""
        if self._member not in self._members:
            return None
        return self._members[slot % len(self._members)] == self._member

    def changed(self) -> asyncio.Event:
        """Set when the seats next move."""
        return self._changed


@dataclass(frozen=True, slots=True)
class Seat:
    """One job's seat in a ``Placement``."""

    placement: Placement
    slot: int

    def here(self) -> bool | None:
        return self.placement.here(self.slot)

    @property
    def generation(self) -> int:
        return self.placement.generation

    def changed(self) -> asyncio.Event:
        return self.placement.changed()
