"""One big fan-out must not hold back everybody else: a document to hundreds of agencies and
a one-recipient document accepted just after it, on the embedded queue and on RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.blobs import BlobStore
from adapters.broker.amqp import AmqpBroker
from adapters.store.schema import delivery_events
from adapters.store.store import Store
from devtools.axis_simulator import (
    AgencyConfig,
    AxisSimulator,
    FaultPlan,
    SimulatorConfig,
    SystemConfig,
)
from gateway.delivery.destinations import AxisDestination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.embedded import run_embedded
from gateway.delivery.queue import relay_outbox, work_handler
from tests.adapters.conftest import SYSTEMS, client_for

from .flows import accept_numbered, until
from .test_queue import broker  # noqa: F401 (a fixture)

OFFICE = "000.00.01.H42"
FAN_OUT = tuple(f"000.{n // 100:02d}.{n % 100:02d}.H99" for n in range(300))


@pytest.fixture
async def crowded() -> AsyncIterator[AxisSimulator]:
    """The tests' axis with three hundred more agencies, answering in 3 ms."""
    many = SystemConfig(
        system_id="00.99.W00",
        secret="secret-of-many",
        agencies=tuple(AgencyConfig(code=code, name=f"Đơn vị {code}") for code in FAN_OUT),
    )
    config = SimulatorConfig(systems=(*SYSTEMS, many), faults=FaultPlan(latency_ms=3))
    async with AxisSimulator(config) as running:
        yield running


async def _sent_order(store: Store) -> list[str]:
    """Delivery ids in the order the axis took them."""
    async with store.engine.connect() as connection:
        return list(
            (
                await connection.execute(
                    sa.select(delivery_events.c.delivery_id)
                    .where(delivery_events.c.to_state == "sent")
                    .order_by(delivery_events.c.id)
                )
            ).scalars()
        )


async def _positions(store: Store, *message_ids: str) -> list[int]:
    order = await _sent_order(store)
    found = []
    for message_id in message_ids:
        view = await store.message(message_id, events=False)
        assert view is not None
        found.append(order.index(view.deliveries[0].id))
    return found


async def _parts(store: Store, tmp_path: Path) -> tuple[BlobStore, str, str, str]:
    blobs = BlobStore(tmp_path / "blobs")
    fan_out = await accept_numbered(store, blobs, 1, FAN_OUT)
    ordinary = await accept_numbered(store, blobs, 2, ("000.00.00.G22",))
    urgent = await accept_numbered(store, blobs, 3, ("000.00.00.G22",), priority=2)
    return blobs, fan_out, ordinary, urgent


async def test_an_ordinary_document_overtakes_the_tail_of_a_large_fan_out(
    live_store: Store, crowded: AxisSimulator, tmp_path: Path
) -> None:
    """Before, the one-recipient document waited behind all 300 copies (over 8 minutes at
    the size of the reported fan-out)."""
    blobs, fan_out, ordinary, urgent = await _parts(live_store, tmp_path)
    async with client_for(crowded, "00.42.W00") as axis:
        dispatcher = Dispatcher(
            live_store, blobs, {"axis": AxisDestination(axis)}, limit_per_destination=4
        )
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_embedded(dispatcher, stop=stop, idle_seconds=0.02, batch=10, concurrency=4)
        )
        while (await live_store.counts_by_state()).get("sent", 0) < 302:
            await asyncio.sleep(0.05)
        stop.set()
        await worker
    ordinary_at, urgent_at = await _positions(live_store, ordinary, urgent)
    assert urgent_at < 15  # the most urgent lane first
    assert ordinary_at < 45  # after the fan-out's first 20 recipients, before its tail
    view = await live_store.message(fan_out, events=False)
    assert view is not None
    assert {d.state for d in view.deliveries} == {"sent"}  # and the fan-out went through


@pytest.mark.parametrize("backend", ["postgresql"])  # production pairs RabbitMQ with it
async def test_the_same_through_rabbitmq(
    broker: AmqpBroker,  # noqa: F811 (the fixture)
    live_store: Store,
    crowded: AxisSimulator,
    tmp_path: Path,
) -> None:
    blobs, _, ordinary, urgent = await _parts(live_store, tmp_path)
    stop = asyncio.Event()
    async with client_for(crowded, "00.42.W00") as axis:
        dispatcher = Dispatcher(
            live_store, blobs, {"axis": AxisDestination(axis)}, limit_per_destination=4
        )
        relay = asyncio.create_task(relay_outbox(live_store, broker, stop=stop, idle_seconds=0.02))

        async def all_in_the_broker() -> bool:
            return not await live_store.unpublished(1)

        # everything is in the broker before anyone consumes (a fixed wait was a guess that
        # a busy machine could lose: the urgent ones then arrived after a hundred others)
        await until(all_in_the_broker)
        consumer = asyncio.create_task(
            broker.run_consumer(work_handler(dispatcher, lease_seconds=30), stop=stop)
        )
        try:
            while (await live_store.counts_by_state()).get("sent", 0) < 302:
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(relay, consumer)
    ordinary_at, urgent_at = await _positions(live_store, ordinary, urgent)
    assert urgent_at < 25  # prefetched messages may go first
    assert ordinary_at < 60
