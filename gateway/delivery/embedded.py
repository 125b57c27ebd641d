"""The embedded work queue: due deliveries claimed from the store itself (no broker), a
batch at a time, each performed by the dispatcher as a slot frees up."""

from __future__ import annotations

import asyncio
import contextlib

from adapters.store.store import DeliveryJob
from gateway.delivery.dispatcher import Dispatcher, Outcome

__all__ = ["run_embedded"]


async def run_embedded(
    dispatcher: Dispatcher,
    *,
    stop: asyncio.Event,
    batch: int = 20,
    lease_seconds: float = 120.0,
    idle_seconds: float = 0.2,
    concurrency: int = 20,
) -> None:
    """The embedded work queue: claim due deliveries from the store and perform them."""
    running: set[asyncio.Task[Outcome]] = set()
    slots = asyncio.Semaphore(concurrency)

    async def perform(job: DeliveryJob) -> Outcome:
        try:
            return await dispatcher.perform(job)
        finally:
            slots.release()

    try:
        while not stop.is_set():
            free = concurrency - len(running)
            jobs = (
                await dispatcher.store.claim_due(min(batch, free), lease_seconds=lease_seconds)
                if free
                else []
            )
            for job in jobs:
                await slots.acquire()
                task = asyncio.create_task(perform(job))
                running.add(task)
                task.add_done_callback(running.discard)
            if not jobs:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_seconds)
    finally:
        if running:
            await asyncio.gather(*running, return_exceptions=True)
