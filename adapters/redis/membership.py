"""Which processes of a deployment are alive, so they can share what is limited.

Each process beats every ``heartbeat_seconds``: one Lua script drops members whose last beat
is older than ``expire_after`` beats, records this one's, and returns every live member in a
stable order. A process's rank in that order and the member count are what
``split_budget`` needs to give each process its share of, say, the axis' 10 connections. A
process that dies drops out after ``expire_after`` beats; one that stops cleanly leaves at
once (``leave``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from adapters.redis.lock import CoordinationUnavailable

__all__ = ["Membership", "Roster", "split_budget"]

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
    """This process's place among the live ones."""

    rank: int
    count: int


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
        names = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        return Roster(names.index(self.member), len(names))

    async def leave(self) -> None:
        try:
            await self._client.zrem(self._key, self.member)
        except (redis_errors.RedisError, OSError) as exc:
            raise CoordinationUnavailable(f"Redis: {exc}") from exc
