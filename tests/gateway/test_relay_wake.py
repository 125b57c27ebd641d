"""A document accepted in one process wakes the outbox relay that leads in another (real
Redis, RabbitMQ and store): it is sent at once, not at the relay's next idle poll."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from adapters.blobs import BlobStore
from adapters.broker.amqp import AmqpBroker, AmqpSettings
from adapters.redis.wake import SharedWake
from adapters.store.store import Store
from gateway.coordination import Coordination
from gateway.delivery.work_queue import RabbitQueue

from .flows import until
from .test_work_queue import AMQP_URL, RECIPIENTS, Recording, _accept, _dispatcher, _states

REDIS_URL = os.environ.get("EDXML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IDLE = 60.0  # the relay's idle poll: far beyond what the test waits


@pytest.fixture
async def redis() -> AsyncIterator[aioredis.Redis]:
    opened = aioredis.from_url(REDIS_URL)
    yield opened
    await opened.aclose()


async def test_a_document_accepted_in_one_process_wakes_the_relay_of_another(
    live_store: Store, tmp_path: Path, redis: aioredis.Redis
) -> None:
    channel = f"edxml-test-{uuid.uuid4().hex[:8]}:relay-wake"
    accepting, relaying = SharedWake(redis, channel), SharedWake(redis, channel)
    settings = AmqpSettings(
        url=AMQP_URL, prefix=f"edxml-test-{uuid.uuid4().hex[:8]}", delay_tiers_seconds=(0.2,)
    )
    blobs, destination = BlobStore(tmp_path / "blobs"), Recording()
    stop = asyncio.Event()
    async with AmqpBroker(settings) as broker:
        queue = RabbitQueue(
            broker, lead=Coordination(None, "test", {}).lead, wake=relaying, idle_seconds=IDLE
        )
        running = asyncio.create_task(
            queue.run(_dispatcher(live_store, blobs, destination), stop=stop)
        )
        try:
            await asyncio.sleep(1.0)  # the relay's first pass found nothing: it idles
            delivery_ids = await _accept(live_store, blobs, RECIPIENTS[:3])
            accepting.set()  # as the API does once the document is stored

            async def all_sent() -> bool:
                return await _states(live_store, delivery_ids) == ["sent"] * 3

            await until(all_sent, timeout=10, step=0.05)
        finally:
            stop.set()
            await asyncio.wait_for(running, 5)  # an idle relay stops at once too
            await broker.delete_all()


async def test_a_wake_up_set_before_a_command_exits_reaches_the_listener(
    redis: aioredis.Redis,
) -> None:
    channel = f"edxml-test-{uuid.uuid4().hex[:8]}:relay-wake"
    listener = SharedWake(redis, channel)
    command_client = aioredis.from_url(REDIS_URL)
    command = SharedWake(command_client, channel)
    async with listener.listen():
        command.set()
        command.set()  # coalesced with the one in flight
        await command.sent()
        await command_client.aclose()
        await asyncio.wait_for(listener.wait(), 5)


async def test_a_wake_up_without_redis_still_wakes_this_process() -> None:
    unreachable = aioredis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    wake = SharedWake(unreachable, "nowhere")
    try:
        async with wake.listen():  # cannot subscribe: logged, not raised
            wake.set()
            await wake.sent()
            assert wake.is_set()
    finally:
        await unreachable.aclose()
