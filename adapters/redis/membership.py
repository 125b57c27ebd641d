"""Which processes of a deployment are alive, so they can share what is limited.

Each process beats every ``heartbeat_seconds``: one Lua script drops members whose last beat
is older than ``expire_after`` beats, records this one's, and returns every live member in a
stable order. A process's rank in that order and the member count are what
``split_budget`` needs to give each process its share of, say, the axis' 10 connections; the
members themselves are what ``Placement`` needs to spread the singleton jobs. A process that
dies drops out after ``expire_after`` beats; one that stops cleanly leaves at once
(``leave``). ``keep_membership`` beats until stopped and tells each observer every roster,
and whether it is settled: the same members seen on two beats in a row, by when every other
live process has beaten once and seen them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from adapters.redis.lock import CoordinationUnavailable

__all__ = ["Membership", "Roster", "RosterObserver", "keep_membership", "split_budget"]

log = logging.getLogger(__name__)

_BEAT = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[4])
local members = redis.call('zrange', KEYS[1], 0, -1)
table.sort(members)
return members
"""


@dataclass(frozen=True, slots=True)
class Roster:
    """The live processes, in the same order for each, and which one is this process."""

    members: tuple[str, ...]
    member: str

    @property
    def rank(self) -> int:
        return self.members.index(self.member)

    @property
    def count(self) -> int:
        return len(self.members)


class RosterObserver(Protocol):
    async def on_roster(self, roster: Roster, *, settled: bool) -> None: ...


def split_budget(total: int, roster: Roster) -> int:
    """This process's part of ``total``: the parts differ by at most one and sum to
    ``total``; with more processes than ``total``, each still gets one (a process that could
    not send at all would hold its work until its leases expired)."""
    share = total // roster.count + (1 if roster.rank < total % roster.count else 0)
    return max(share, 1)


class Membership:
    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        *,
        heartbeat_seconds: float = 1.0,
        expire_after: int = 3,
        member: str | None = None,
    ) -> None:
        self._client = client
        self._key = f"{prefix}:members"
        self.heartbeat_seconds = heartbeat_seconds
        self._expire_after = expire_after
        self.member = member or uuid.uuid4().hex

    async def beat(self) -> Roster:
        now = time.time()
        ttl = self.heartbeat_seconds * self._expire_after
        try:
            members = await self._client.eval(  # type: ignore[misc]
                _BEAT, 1, self._key, str(now), str(now + ttl), self.member,
                str(int(ttl * 1000) + 1000),
            )  # fmt: skip
        except (redis_errors.RedisError, OSError) as exc:
            raise CoordinationUnavailable(f"Redis: {exc}") from exc
        names = tuple(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        return Roster(names, self.member)

    async def leave(self) -> None:
        try:
            await self._client.zrem(self._key, self.member)
        except (redis_errors.RedisError, OSError) as exc:
            raise CoordinationUnavailable(f"Redis: {exc}") from exc


async def keep_membership(
    membership: Membership, observers: Sequence[RosterObserver], *, stop: asyncio.Event
) -> None:
    """Beat until ``stop``, then leave; each roster goes to every observer. A beat that cannot
    reach Redis changes nothing: the observers keep what they last applied."""
    seen: Roster | None = None
    try:
        while not stop.is_set():
            try:
                roster = await membership.beat()
            except CoordinationUnavailable as exc:
                log.warning("membership: %s; keeping the last roster", exc)
            else:
                for observer in observers:
                    await observer.on_roster(roster, settled=roster == seen)
                seen = roster
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), membership.heartbeat_seconds)
    finally:
        with contextlib.suppress(CoordinationUnavailable):
            await membership.leave()
