"""Performing one delivery attempt, and the embedded worker loop that feeds it.

``Dispatcher.perform(job)``: read the package from the blob store, hand it to the job's
destination within that destination's concurrency limit, and record the outcome with the
attempt as fencing token:

* taken -> ``sent`` (with the remote id);
* transient failure -> ``retry_wait`` at the schedule's next time, or ``failed`` when the
  schedule or the message's maximum age is over;
* permanent failure (refused, invalid, unknown recipient) -> ``failed`` with the reason.

The limit per destination keeps a recovering axis from a retry storm: at most ``limit``
requests in flight per destination in this process, and, with Redis, at most the shared
limit's across the deployment.
``run_embedded`` is the no-server work queue: due rows in the store, claimed in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from adapters.blobs import BlobNotFound, BlobStore
from adapters.errors import RemoteServiceError
from adapters.redis.limits import DestinationLimit, LocalLimit
from adapters.store.store import DeliveryJob, Store, utc_now

from .destinations import Destination
from .retry import RetryPolicy

__all__ = ["Dispatcher", "Outcome", "run_embedded"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: str
    attempt: int
    state: str  # sent | retry_wait | failed | lost (the attempt was no longer ours)
    detail: str = ""


class Dispatcher:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        destinations: Mapping[str, Destination],
        *,
        retry: RetryPolicy | None = None,
        limit_per_destination: int = 10,
        shared_limit: DestinationLimit | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.store = store
        self._blobs = blobs
        self._destinations = dict(destinations)
        self._retry = retry or RetryPolicy()
        self._local_limit = LocalLimit(limit_per_destination)
        self._shared_limit = shared_limit  # the deployment's, across processes (Redis)
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._clock = clock
        self.in_flight: dict[str, int] = {}  # per destination, for tests and metrics

    async def _record(
        self,
        job: DeliveryJob,
        state: str,
        detail: str,
        *,
        remote_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> Outcome:
        if state == "sent":
            ours = await self.store.mark_sent(job.delivery_id, job.attempt, remote_id)
        elif state == "retry_wait" and at is not None:
            ours = await self.store.mark_retry(job.delivery_id, job.attempt, detail, at)
        else:
            ours = await self.store.mark_failed(job.delivery_id, job.attempt, detail)
        if not ours:
            log.warning(
                "attempt %s was taken over; outcome dropped",
                job.attempt,
                extra={"message_id": job.message_id, "delivery_id": job.delivery_id},
            )
            return Outcome(job.delivery_id, job.attempt, "lost", detail)
        return Outcome(job.delivery_id, job.attempt, state, detail)

    async def perform(self, job: DeliveryJob) -> Outcome:
        destination = self._destinations.get(job.route)
        if destination is None:
            return await self._record(
                job, "failed", f"no destination named {job.route!r} in the configuration"
            )
        try:
            package = await asyncio.to_thread(self._blobs.get, job.package_ref)
        except BlobNotFound:
            return await self._record(
                job, "failed", f"the package {job.package_ref} is missing from the blob store"
            )
        try:
            async with contextlib.AsyncExitStack() as slots:
                await slots.enter_async_context(self._local_limit.slot(job.route))
                if self._shared_limit is not None:
                    await slots.enter_async_context(self._shared_limit.slot(job.route))
                self.in_flight[job.route] = self.in_flight.get(job.route, 0) + 1
                try:
                    found = await destination.find_delivered(job) if job.in_doubt else None
                    if found is not None:
                        detail = "the previous attempt had reached the destination"
                        return await self._record(job, "sent", detail, remote_id=found)
                    remote_id = await destination.deliver(job, package)
                finally:
                    self.in_flight[job.route] -= 1
        except RemoteServiceError as exc:
            if not exc.transient:
                return await self._record(job, "failed", str(exc))
            return await self._retry_or_fail(job, str(exc))
        except Exception as exc:  # a bug or an unmapped driver error: retry, and say so
            log.exception(
                "attempt %s: unexpected error",
                job.attempt,
                extra={"message_id": job.message_id, "delivery_id": job.delivery_id},
            )
            return await self._retry_or_fail(job, f"unexpected {type(exc).__name__}: {exc}")
        return await self._record(job, "sent", "", remote_id=remote_id)

    async def _retry_or_fail(self, job: DeliveryJob, error: str) -> Outcome:
        at = self._retry.next_attempt_at(
            job.attempt, created_at=job.message_created_at, now=self._clock(), rng=self._rng
        )
        if at is None:
            return await self._record(
                job, "failed", f"{error}; {self._retry.exhausted_reason(job.attempt)}"
            )
        return await self._record(job, "retry_wait", error, at=at)


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
