"""A wake-up the processes of a deployment share: set in one, it wakes a waiter in any.

The API accepts a document in one process, and the outbox relay that publishes it may lead
in another (``Placement`` seats it). With a local ``asyncio.Event`` that relay would notice
only at its next idle poll. ``SharedWake`` is that event, and its ``set`` also publishes a
short message on a Redis channel; ``listen``, entered only where the relay runs, sets the
local event when one arrives. Publishes are coalesced: sets made while one is in flight
share the next. If Redis cannot be reached nothing is lost: the relay's idle poll finds
the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis import asyncio as aioredis
from redis import exceptions as redis_errors

from adapters.redis.feed import subscribed

__all__ = ["SharedWake", "listening"]

log = logging.getLogger(__name__)


class SharedWake(asyncio.Event):
    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        super().__init__()
        self._client = client
        self._channel = channel
        self._again = False
        self._sending: asyncio.Future[None] | None = None

    def set(self) -> None:
        super().set()
        self._again = True
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        while self._again:
            self._again = False
            try:
                await self._client.publish(self._channel, b"wake")
            except (redis_errors.RedisError, OSError) as exc:
                log.warning("relay wake-up: %s; the relay will find the rows on its own", exc)

    async def sent(self) -> None:
        """Wait until every set so far is published (for a command that exits next)."""
        if self._sending is not None:
            await asyncio.gather(self._sending, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[None]:
        """While inside, a set in any process of the deployment sets this event here."""
        pubsub = self._client.pubsub()
        try:
            await subscribed(pubsub, self._channel)
        except (redis_errors.RedisError, OSError, TimeoutError) as exc:
            log.warning("relay wake-up: %s; waking on this process's sets only", exc)
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            yield
            return

        async def pump() -> None:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    super(SharedWake, self).set()  # here only: not published again

        reader = asyncio.create_task(pump())
        try:
            yield
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, redis_errors.RedisError, OSError):
                await reader
            with contextlib.suppress(redis_errors.RedisError, OSError):
                await pubsub.unsubscribe(self._channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]


def listening(wake: asyncio.Event | None) -> contextlib.AbstractAsyncContextManager[None]:
    """``wake.listen()`` for a ``SharedWake``; nothing to do for a local event."""
    if isinstance(wake, SharedWake):
        return wake.listen()
    return contextlib.nullcontext()
