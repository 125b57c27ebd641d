"""One contract, two work queues: the embedded one (the store's due rows) and RabbitMQ (the
outbox relay and a consumer), against the real servers. Each must bring every due delivery
to the dispatcher and have it performed once in effect, bring a requeued one round again,
and stop when told."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import edxml
from adapters.blobs import BlobStore
from adapters.broker.amqp import AmqpBroker, AmqpSettings
from adapters.errors import TransportError
from adapters.store.store import DeliveryJob, NewDelivery, NewMessage, Store
from gateway.coordination import Coordination
from gateway.delivery.destinations import Destination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.work_queue import EmbeddedQueue, RabbitQueue, WorkQueue
from tests.factories import document, organization

from .flows import until

AMQP_URL = os.environ.get("EDXML_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
OFFICE = "000.00.01.H42"
RECIPIENTS = tuple(f"000.00.{n:02d}.H42" for n in range(2, 14))


@dataclass
class Recording:
    """A destination that takes every package, and counts who got what."""

    name: str = "recording"
    can_look_up: bool = False
    idempotent: bool = False
    got: list[str] = field(default_factory=list)
    fail_first: set[str] = field(default_factory=set)

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        if job.recipient in self.fail_first:
            self.fail_first.discard(job.recipient)
            raise TransportError("the first attempt is refused")
        self.got.append(job.delivery_id)
        return f"remote-{job.delivery_id}"

    async def probe(self) -> bool:
        return True

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        return []


@pytest.fixture(params=["embedded", "rabbitmq"])
async def queue(request: pytest.FixtureRequest) -> AsyncIterator[WorkQueue]:
    if request.param == "embedded":
        yield EmbeddedQueue(batch=5, concurrency=4, lease_seconds=30, idle_seconds=0.05)
        return
    settings = AmqpSettings(
        url=AMQP_URL, prefix=f"edxml-test-{uuid.uuid4().hex[:8]}", delay_tiers_seconds=(0.2, 1.0)
    )
    async with AmqpBroker(settings) as broker:
        try:
            yield RabbitQueue(
                broker,
                lead=Coordination(None, "test", {}).lead,
                lease_seconds=30,
                idle_seconds=0.05,
            )
        finally:
            await broker.delete_all()


async def _accept(store: Store, blobs: BlobStore, recipients: tuple[str, ...]) -> list[str]:
    package = document(recipients=tuple(organization(r) for r in recipients))
    data = edxml.build(package)
    _, delivery_ids = await store.accept(
        NewMessage(
            direction="out",
            document_id=package.document_id or "",
            sender=OFFICE,
            package_ref=blobs.put(data),
            package_size=len(data),
        ),
        [NewDelivery(r, "recording") for r in recipients],
    )
    return list(delivery_ids)


def _dispatcher(store: Store, blobs: BlobStore, destination: Recording) -> Dispatcher:
    routes: dict[str, Destination] = {"recording": destination}
    return Dispatcher(
        store, blobs, routes, retry=RetryPolicy(delays_seconds=(0.2, 0.5), jitter=0.0)
    )


async def _states(store: Store, delivery_ids: list[str]) -> list[str | None]:
    return [await store.state_of(d) for d in delivery_ids]


async def test_every_due_delivery_is_performed_once(
    queue: WorkQueue, live_store: Store, tmp_path: Path
) -> None:
    blobs, destination = BlobStore(tmp_path / "blobs"), Recording()
    delivery_ids = await _accept(live_store, blobs, RECIPIENTS)
    stop = asyncio.Event()
    running = asyncio.create_task(queue.run(_dispatcher(live_store, blobs, destination), stop=stop))
    try:

        async def all_sent() -> bool:
            return await _states(live_store, delivery_ids) == ["sent"] * len(delivery_ids)

        await until(all_sent, timeout=30, step=0.05)
        await asyncio.sleep(0.5)  # anything delivered twice would show now
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)  # stop ends the run
    assert sorted(destination.got) == sorted(delivery_ids)


async def test_a_failed_attempt_is_retried_and_a_requeued_delivery_comes_round(
    queue: WorkQueue, live_store: Store, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    destination = Recording(fail_first={RECIPIENTS[0]})
    (retried, once) = await _accept(live_store, blobs, RECIPIENTS[:2])
    stop = asyncio.Event()
    running = asyncio.create_task(queue.run(_dispatcher(live_store, blobs, destination), stop=stop))
    try:

        async def both_sent() -> bool:
            return await _states(live_store, [retried, once]) == ["sent", "sent"]

        await until(both_sent, timeout=30, step=0.05)
        assert destination.got.count(retried) == 1
        # An operator puts a delivery back: it is performed again, once.
        await live_store.move(once, "sent", "failed", source="test", detail="lost")
        assert await live_store.requeue(once, source="operator")

        async def again() -> bool:
            return destination.got.count(once) == 2 and await live_store.state_of(once) == "sent"

        await until(again, timeout=30, step=0.05)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
