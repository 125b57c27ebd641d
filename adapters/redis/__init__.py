"""Coordination between gateway processes: Redis in production, in-process when embedded."""

from adapters.redis.lock import (
    CoordinationUnavailable,
    Job,
    LeaderLock,
    LocalLock,
    RedisLock,
    while_leader,
)

__all__ = ["CoordinationUnavailable", "Job", "LeaderLock", "LocalLock", "RedisLock", "while_leader"]
