"""The deployment-wide destination limit and the live state feed, on the real Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from adapters.redis.feed import LocalFeed, RedisFeed
from adapters.redis.limits import LocalLimit, RedisLimit
from adapters.store.store import NewDelivery, NewMessage, StateChange, Store

REDIS_URL = os.environ.get("EDXML_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    opened = aioredis.from_url(REDIS_URL)
    yield opened
    await opened.aclose()


async def test_the_shared_limit_holds_across_processes(client: aioredis.Redis) -> None:
    prefix = f"edxml-test:{uuid.uuid4().hex}"
    limits = [RedisLimit(client, prefix, 3, poll_seconds=0.005) for _ in range(4)]  # 4 "processes"
    in_flight = peak = 0

    async def request(limit: RedisLimit) -> None:
        nonlocal in_flight, peak
        async with limit.slot("axis"):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(request(limits[n % 4]) for n in range(40)))
    assert peak == 3
    assert await client.zcard(f"{prefix}:inflight:axis") == 0


async def test_a_dead_holder_frees_its_slot_after_the_ttl(client: aioredis.Redis) -> None:
    prefix = f"edxml-test:{uuid.uuid4().hex}"
    dying = RedisLimit(client, prefix, 1, ttl_seconds=0.2)
    assert await dying._take(f"{prefix}:inflight:axis", "never-released")
    survivor = RedisLimit(client, prefix, 1, poll_seconds=0.02)
    async with asyncio.timeout(2):
        async with survivor.slot("axis"):
            pass
    async with LocalLimit(1).slot("axis"):
        pass


async def _one_change(store: Store, feed: LocalFeed | RedisFeed) -> StateChange:
    store.listeners.append(feed.publish)
    async with feed.subscribe() as changes:
        _, (delivery_id,) = await store.accept(
            NewMessage(
                direction="out", document_id="d", sender="s", package_ref="0" * 64, package_size=1
            ),
            [NewDelivery("000.00.00.G22", "axis")],
        )
        change = await asyncio.wait_for(changes.get(), 5)
    assert change.delivery_id == delivery_id
    return change


async def test_the_feeds_carry_committed_changes(store: Store, client: aioredis.Redis) -> None:
    local = await _one_change(store, LocalFeed())
    assert (local.from_state, local.to_state, local.source) == (None, "queued", "api")
    remote = await _one_change(store, RedisFeed(client, f"edxml-test:{uuid.uuid4().hex}:changes"))
    assert remote.to_state == "queued"
    assert remote.at == local.at  # the store's clock, through JSON and back
