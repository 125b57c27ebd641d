"""The RabbitMQ side of the delivery engine: the outbox relay and the consuming worker.

The relay publishes outbox rows (written in the same transaction as the message, a
scheduled retry or a requeue) and marks them only once RabbitMQ has confirmed them; after a
crash or a lost connection it simply publishes what is still unmarked, so nothing is lost
and, at worst, something is published twice. The worker takes each message's delivery with
``claim_many`` (the attempt number fences it), performs it, and acknowledges; a duplicate or
stale message finds nothing to do or waits for its time. At-least-once transport, idempotent
consumers: each delivery happens once in effect (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence

from adapters.broker.amqp import AmqpBroker, BrokerUnavailable, Handler, WorkItem
from adapters.store.store import Claim, Store, utc_now
from adapters.waiting import until_any
from gateway.delivery.batching import Batcher
from gateway.delivery.dispatcher import Dispatcher

__all__ = ["relay_outbox", "work_handler"]

log = logging.getLogger(__name__)


async def relay_outbox(
    store: Store,
    broker: AmqpBroker,
    *,
    stop: asyncio.Event,
    wake: asyncio.Event | None = None,
    batch: int = 200,
    idle_seconds: float = 0.2,
    clock: Callable[[], dt.datetime] = utc_now,
    sweep_every_seconds: float = 30.0,
    stuck_after_seconds: float = 60.0,
) -> None:
    """Publish unpublished outbox rows until ``stop``; ``wake`` cuts the idle wait short.

    Every ``sweep_every_seconds`` it also reschedules deliveries overdue by more than
    ``stuck_after_seconds`` that nothing in the outbox covers (``Store.reschedule_stuck``).
    """
    loop = asyncio.get_running_loop()
    next_sweep = loop.time() + sweep_every_seconds
    while not stop.is_set():
        if loop.time() >= next_sweep:
            next_sweep = loop.time() + sweep_every_seconds
            rescheduled = await store.reschedule_stuck(grace_seconds=stuck_after_seconds)
            if rescheduled:
                log.warning("outbox relay: %d stuck deliveries rescheduled", rescheduled)
        rows = await store.unpublished(batch)
        if rows:
            now = clock()
            items = [
                (
                    WorkItem(row.delivery_id, row.attempt, row.priority),
                    max(0.0, (row.due_at - now).total_seconds()),
                )
                for row in rows
            ]
            try:
                await broker.publish_many(items)
            except BrokerUnavailable as exc:
                log.warning("outbox relay: %s; retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                continue
            await store.mark_published([row.id for row in rows])
            continue
        await until_any(stop, wake, timeout=idle_seconds)
        if wake is not None:
            wake.clear()


def work_handler(
    dispatcher: Dispatcher,
    *,
    lease_seconds: float = 120.0,
    linger: float = 0.0,
    clock: Callable[[], dt.datetime] = utc_now,
) -> Handler:
    """The consumer's handler: claim the message's delivery (claims of the messages a worker
    holds at once share one transaction; while busy, a claim waits ``linger`` seconds for
    company), perform it, say when to look again if it is busy."""

    async def claim_many(delivery_ids: Sequence[str]) -> dict[str, Claim]:
        return await dispatcher.store.claim_many(delivery_ids, lease_seconds=lease_seconds)

    claims: Batcher[str, str, Claim] = Batcher(
        claim_many,
        key=lambda delivery_id: delivery_id,
        missing=Claim(None, None, "unknown"),
        linger=linger,
    )

    async def handle(item: WorkItem) -> float | None:
        claim = await claims.submit(item.delivery_id)
        if claim.job is None:
            if claim.busy_until is not None:
                return max(0.5, (claim.busy_until - clock()).total_seconds() + 0.5)
            return None  # done already, or unknown: drop the duplicate
        await dispatcher.perform(claim.job)
        return None

    return handle
