"""The work queue: what feeds accepted deliveries to the dispatcher, behind one interface.

Two backends, chosen by configuration (``broker_url``): ``EmbeddedQueue`` — the store's due
rows are the queue, claimed in batches (a laptop, one process) — and ``RabbitQueue`` — the
outbox relay publishes what each transaction queued, and consumers take one delivery per
message (several workers). Both promise the same, which ``tests/gateway/test_work_queue.py``
checks on each: every due delivery reaches the dispatcher at least once, and the store's
claims (attempt numbers as fencing tokens) make it happen once in effect; a requeued one
comes round again; ``stop`` ends the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from adapters.broker.amqp import AmqpBroker
from adapters.redis import Job
from adapters.redis.wake import listening
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.embedded import run_embedded
from gateway.delivery.queue import relay_outbox, work_handler

__all__ = ["EmbeddedQueue", "RabbitQueue", "WorkQueue"]


class WorkQueue(Protocol):
    """Runs until ``stop``, handing each due delivery to ``dispatcher.perform``."""

    name: str

    async def run(self, dispatcher: Dispatcher, *, stop: asyncio.Event) -> None: ...


class Lead(Protocol):
    """Runs ``job`` in the one process of the deployment that holds ``name``'s lock."""

    def __call__(
        self,
        name: str,
        job: Job,
        *,
        stop: asyncio.Event,
    ) -> Coroutine[Any, Any, None]: ...


@dataclass
class EmbeddedQueue:
    """The store's due rows are the queue (no broker)."""

    batch: int = 20
    lease_seconds: float = 120.0
    concurrency: int = 20
    idle_seconds: float = 0.2
    name: str = "embedded"

    async def run(self, dispatcher: Dispatcher, *, stop: asyncio.Event) -> None:
        await run_embedded(
            dispatcher,
            stop=stop,
            batch=self.batch,
            lease_seconds=self.lease_seconds,
            concurrency=self.concurrency,
            idle_seconds=self.idle_seconds,
        )


@dataclass
class RabbitQueue:
    """RabbitMQ: the outbox relay (one leader among the processes) and a consumer."""

    broker: AmqpBroker
    #: Runs the relay under its leader lock (``Coordination.lead``)
    lead: Lead
    wake: asyncio.Event | None = None
    lease_seconds: float = 120.0
    idle_seconds: float = 0.2
    #: While busy, a batch of claims waits this long for company (``Batcher``)
    batch_linger: float = 0.0
    name: str = "rabbitmq"

    async def run(self, dispatcher: Dispatcher, *, stop: asyncio.Event) -> None:
        store, broker = dispatcher.store, self.broker

        async def relay(job_stop: asyncio.Event) -> None:
            async with listening(self.wake):  # documents accepted by any process wake it
                await relay_outbox(
                    store, broker, stop=job_stop, wake=self.wake, idle_seconds=self.idle_seconds
                )

        handler = work_handler(
            dispatcher, lease_seconds=self.lease_seconds, linger=self.batch_linger
        )
        await asyncio.gather(
            broker.run_consumer(handler, stop=stop),
            self.lead("relay", relay, stop=stop),
        )
