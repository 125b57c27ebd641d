"""The production path: PostgreSQL + RabbitMQ (the real servers) + the simulated axis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

import edxml
from adapters.blobs import BlobStore
from adapters.broker.amqp import AmqpBroker, AmqpSettings, WorkItem
from adapters.store.store import NewDelivery, NewMessage, Store
from devtools.axis_simulator import AxisSimulator
from gateway.delivery.destinations import AxisDestination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.queue import relay_outbox, work_handler
from gateway.delivery.retry import RetryPolicy
from tests.adapters.conftest import client_for
from tests.factories import document, organization

from .flows import until

AMQP_URL = os.environ.get("EDXML_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
OFFICE, VPCP, TAY_NINH, H17 = "000.00.01.H42", "000.00.00.G22", "000.00.11.H53", "28.22.H17"
FAST = RetryPolicy(delays_seconds=(0.2, 0.5, 1, 2, 4), jitter=0.1)


@pytest.fixture
def backend() -> str:
    return "postgresql"  # production pairs RabbitMQ with PostgreSQL


@pytest.fixture
async def broker() -> AsyncIterator[AmqpBroker]:
    settings = AmqpSettings(
        url=AMQP_URL,
        prefix=f"edxml-test-{uuid.uuid4().hex[:8]}",
        delay_tiers_seconds=(0.2, 1.0, 5.0),
    )
    async with AmqpBroker(settings) as opened:
        try:
            yield opened
        finally:
            await opened.delete_all()


async def _accept(store: Store, blobs: BlobStore, recipients: tuple[str, ...]) -> str:
    package = document(recipients=tuple(organization(r) for r in recipients))
    data = edxml.build(package)
    message_id, _ = await store.accept(
        NewMessage(
            direction="out",
            document_id=package.document_id or "",
            sender=OFFICE,
            package_ref=blobs.put(data),
            package_size=len(data),
        ),
        [NewDelivery(r, "axis") for r in recipients],
    )
    return message_id


async def _run(
    store: Store,
    broker: AmqpBroker,
    dispatcher: Dispatcher,
    condition: Callable[[], Awaitable[bool]],
) -> None:
    stop = asyncio.Event()
    relay = asyncio.create_task(relay_outbox(store, broker, stop=stop, idle_seconds=0.05))
    consumer = asyncio.create_task(
        broker.run_consumer(work_handler(dispatcher, lease_seconds=10), stop=stop)
    )
    try:
        await until(condition, timeout=60, step=0.05)
    finally:
        stop.set()
        await asyncio.gather(relay, consumer)


async def test_three_recipients_through_rabbitmq(
    live_store: Store, broker: AmqpBroker, simulator: AxisSimulator, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    message_id = await _accept(live_store, blobs, (VPCP, TAY_NINH, H17))
    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(live_store, blobs, {"axis": AxisDestination(axis)}, retry=FAST)

        async def all_sent() -> bool:
            view = await live_store.message(message_id, events=False)
            return view is not None and {d.state for d in view.deliveries} == {"sent"}

        await _run(live_store, broker, dispatcher, all_sent)
    assert await live_store.unpublished(10) == []
    assert simulator.hub.summary()["deliveries"] == 3
    assert (await broker.depth()) == {"deliveries": 0, "deliveries.dead": 0}


async def test_duplicate_and_poison_messages(
    live_store: Store, broker: AmqpBroker, simulator: AxisSimulator, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    message_id = await _accept(live_store, blobs, (VPCP,))
    view = await live_store.message(message_id, events=False)
    assert view is not None
    delivery_id = view.deliveries[0].id
    # the same work item three times (a relay that crashed before marking), and junk
    for _ in range(3):
        await broker.publish(WorkItem(delivery_id, 1))
    link = await broker._link()
    await link.channel.default_exchange.publish(
        __import__("aio_pika").Message(b"not json"),
        routing_key=f"{broker.settings.prefix}.deliveries",
    )
    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(live_store, blobs, {"axis": AxisDestination(axis)}, retry=FAST)

        async def settled() -> bool:
            depth = await broker.depth()
            return (
                depth == {"deliveries": 0, "deliveries.dead": 1}
                and await live_store.state_of(delivery_id) == "sent"
            )

        await _run(live_store, broker, dispatcher, settled)
    assert simulator.hub.summary()["deliveries"] == 1  # sent once despite four messages
    # the operator looks at the poison queue (twice: looking leaves it there), then drains it
    for _ in range(2):
        (junk,) = await broker.poison()
        assert junk.head == b"not json"
    assert await broker.drain_poison() == 1
    assert (await broker.depth())["deliveries.dead"] == 0
    assert await broker.poison() == []


# aiormq leaves the socket of a connection the server closed for the garbage collector.
@pytest.mark.filterwarnings("ignore:unclosed <StreamWriter:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_rabbitmq_connections_cut_mid_run_lose_nothing(
    live_store: Store, broker: AmqpBroker, simulator: AxisSimulator, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    recipients = (VPCP, TAY_NINH, H17, "000.00.00.H42")
    message_ids = [
        await _accept(live_store, blobs, recipients) for _ in range(50)
    ]  # 200 deliveries
    simulator.faults.set(simulator.faults.plan.model_copy(update={"latency_ms": 5}))
    cut = False

    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(live_store, blobs, {"axis": AxisDestination(axis)}, retry=FAST)

        async def all_sent() -> bool:
            nonlocal cut
            counts = await live_store.counts_by_state()
            if not cut and counts.get("sent", 0) >= 40:
                cut = True
                await asyncio.to_thread(
                    subprocess.run,
                    ["rabbitmqctl", "close_all_connections", "test: cut"],
                    check=True,
                    capture_output=True,
                )
            return counts == {"sent": 200}

        await _run(live_store, broker, dispatcher, all_sent)
    assert cut
    # every delivery reached the axis exactly once: one docId per (message, recipient)
    assert simulator.hub.summary()["deliveries"] == 200
    assert len(message_ids) == 50


async def test_urgent_documents_overtake_the_queue(broker: AmqpBroker) -> None:
    for number in range(5):
        await broker.publish(WorkItem(f"normal-{number}", 1, priority=0))
    await broker.publish(WorkItem("urgent", 1, priority=2))
    seen: list[str] = []
    stop = asyncio.Event()

    async def handler(item: WorkItem) -> float | None:
        seen.append(item.delivery_id)
        if len(seen) == 6:
            stop.set()
        return None

    await asyncio.wait_for(broker.run_consumer(handler, stop=stop), timeout=30)
    assert seen[0] == "urgent"
    assert sorted(seen[1:]) == [f"normal-{n}" for n in range(5)]


def test_delays_round_down_to_a_tier() -> None:
    broker = AmqpBroker(AmqpSettings(url=AMQP_URL, prefix="p", delay_tiers_seconds=(1, 5, 30, 120)))
    assert [broker.delay_queue(s)[1] for s in (0.2, 1, 4.9, 36, 119, 5000)] == [
        1,
        1,
        1,
        30,
        30,
        120,
    ]
    assert broker.delay_queue(36)[0] == "p.delay.30000"
