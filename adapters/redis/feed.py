"""Live state changes for dashboards: every committed move of a delivery, published.

The store tells its listeners about each committed event (``Store.listeners``); a feed
fans them out. ``RedisFeed`` publishes JSON on a Redis channel, so every gateway process's
dashboard sees the changes of every worker; ``LocalFeed`` does the same within one process
(the embedded mode). A subscriber that falls behind loses old changes rather than slowing the
workers: a live view re-reads the store when told something changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator

from redis import asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.client import PubSub

from adapters.store.store import StateChange

__all__ = ["LocalFeed", "RedisFeed", "subscribed"]

log = logging.getLogger(__name__)
_BACKLOG = 1000


async def subscribed(pubsub: PubSub, channel: str) -> None:
    """Subscribe to ``channel`` and wait until Redis confirms: a message published before
    that would not reach us."""
    await pubsub.subscribe(channel)
    async with asyncio.timeout(10):
        while (await pubsub.get_message(timeout=1.0) or {}).get("type") != "subscribe":
            pass


def _encode(changes: list[StateChange]) -> str:
    """A batch of changes as one message (one PUBLISH for a batch of claims or outcomes)."""
    return json.dumps(
        [
            {
                "delivery_id": change.delivery_id,
                "from": change.from_state,
                "to": change.to_state,
                "source": change.source,
                "at": change.at.isoformat(),
            }
            for change in changes
        ]
    )


def _decode(text: str | bytes) -> list[StateChange]:
    return [
        StateChange(
            data["delivery_id"],
            data["from"],
            data["to"],
            data["source"],
            dt.datetime.fromisoformat(data["at"]),
        )
        for data in json.loads(text)
    ]


class LocalFeed:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[StateChange]] = set()

    def publish(self, change: StateChange) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()  # drop the oldest
            queue.put_nowait(change)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[StateChange]]:
        queue: asyncio.Queue[StateChange] = asyncio.Queue(_BACKLOG)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)


class RedisFeed:
    """Changes published on a Redis channel; those committed while a send is under way go
    together in one message."""

    def __init__(self, client: aioredis.Redis, channel: str) -> None:
        self._client = client
        self._channel = channel
        self._pending: list[StateChange] = []
        self._sending: asyncio.Task[None] | None = None

    def publish(self, change: StateChange) -> None:
        self._pending.append(change)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.ensure_future(self._send())

    async def _send(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._client.publish(self._channel, _encode(batch))
            except (redis_errors.RedisError, OSError) as exc:
                log.warning("state feed: %s", exc)  # live views miss these updates

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[StateChange]]:
        queue: asyncio.Queue[StateChange] = asyncio.Queue(_BACKLOG)
        pubsub = self._client.pubsub()
        await subscribed(pubsub, self._channel)

        async def pump() -> None:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                for change in _decode(message["data"]):
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(change)

        reader = asyncio.create_task(pump())
        try:
            yield queue
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, redis_errors.RedisError):
                await reader
            await pubsub.unsubscribe(self._channel)
            await pubsub.aclose()  # type: ignore[no-untyped-call]
