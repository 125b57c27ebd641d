"""An attempt whose outcome is recorded just after a success has woken the deliveries
waiting on its destination: held back by the open circuit while the trial that closed it was
in flight, or failed by the destination while another attempt went through. It must be woken
too (at once when the circuit it was held by has closed, else by the next success), or it
sits out its wait (the circuit's 30 s, the schedule's step) while the destination answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from adapters.axis.client import AxisTransientError
from adapters.blobs import BlobStore
from adapters.store.records import as_utc
from adapters.store.schema import deliveries
from adapters.store.store import DeliveryJob, Store, utc_now
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.retry import RetryPolicy

from .flows import accept_numbered

VPCP = "000.00.00.G22"


def _record_after_the_wake(dispatcher: Dispatcher, store: Store, delivery_id: str) -> None:
    """The outcome of ``delivery_id`` is recorded only once a wake-up of its route has run:
    the race, in the order that loses it."""
    woken = asyncio.Event()
    record, wake = dispatcher._record, store.wake_route

    async def record_after_the_wake(job: DeliveryJob, state: str, detail: str, **kw: Any) -> Any:
        if job.delivery_id == delivery_id:
            await woken.wait()
        return await record(job, state, detail, **kw)

    async def wake_and_tell(route: str, *, source: str = "dispatcher") -> int:
        count = await wake(route, source=source)
        woken.set()
        return count

    dispatcher._record = record_after_the_wake  # type: ignore[method-assign]
    store.wake_route = wake_and_tell  # type: ignore[method-assign]


async def _job(store: Store, delivery_id: str) -> DeliveryJob:
    claim = (await store.claim_many([delivery_id], lease_seconds=60))[delivery_id]
    assert claim.job is not None, claim
    return claim.job


async def _accepted(store: Store, blobs: BlobStore, count: int) -> list[str]:
    """The deliveries of ``count`` documents to the axis, in their order."""
    deliveries = []
    for number in range(count):
        view = await store.message(await accept_numbered(store, blobs, number, (VPCP,)))
        assert view is not None
        deliveries.append(view.deliveries[0].id)
    return deliveries


async def _due_now(store: Store, delivery_id: str) -> bool:
    """Whether the delivery waits on a retry that is due now."""
    state = await store.state_of(delivery_id)
    async with store.engine.connect() as connection:
        next_at = as_utc(
            await connection.scalar(
                sa.select(deliveries.c.next_attempt_at).where(deliveries.c.id == delivery_id)
            )
        )
    return state == "retry_wait" and next_at is not None and next_at <= utc_now()


class _Axis:
    """What the fake axes share: nothing to look up, nothing to probe."""

    name = "axis"
    can_look_up = False
    idempotent = False

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        return []

    async def probe(self) -> bool:
        return False


class Gate(_Axis):
    """The axis as the test lets it answer: down for the first call, then each call waits
    until the test opens its gate."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        self.calls += 1
        if self.calls == 1:
            raise AxisTransientError("the axis is down", operation="sendEdoc", http_status=503)
        await self.gate.wait()
        return f"remote-{self.calls}"


async def test_a_delivery_held_while_the_trial_succeeds_is_woken_at_once(
    live_store: Store, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    failing, trial, held = await _accepted(live_store, blobs, 3)
    offset = dt.timedelta()

    def clock() -> dt.datetime:
        return utc_now() + offset

    axis = Gate()
    dispatcher = Dispatcher(
        live_store,
        blobs,
        {"axis": axis},
        retry=RetryPolicy(delays_seconds=(30.0, 60.0), jitter=0.0),
        circuit_failures=1,
        clock=clock,
    )
    _record_after_the_wake(dispatcher, live_store, held)  # held by the trial's circuit
    job = functools.partial(_job, live_store)
    await dispatcher.perform(await job(failing))  # the axis fails: the circuit opens
    assert dispatcher.circuits.is_open("axis")
    offset = dt.timedelta(seconds=31)  # the circuit's next trial is due
    trying = asyncio.create_task(dispatcher.perform(await job(trial)))

    async def the_trial_is_sent() -> None:
        while axis.calls < 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(the_trial_is_sent(), 10)
    holding = asyncio.create_task(dispatcher.perform(await job(held)))  # behind the trial
    await asyncio.sleep(0.05)  # held by the open circuit, its outcome not yet recorded
    axis.gate.set()  # the axis answers: the trial succeeds and wakes what waits
    await asyncio.wait_for(trying, 10)
    outcome = await asyncio.wait_for(holding, 10)
    assert outcome.state == "retry_wait"
    assert "circuit open" in (outcome.detail or "")

    # no other delivery goes through after it: the held one is due all the same, not
    # after the circuit's 30 s
    assert await _due_now(live_store, held)


class Script(_Axis):
    """The axis as the test scripts it: one delivery's call fails (503), the others go
    through."""

    def __init__(self, failing: str) -> None:
        self.failing = failing

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        if job.delivery_id == self.failing:
            raise AxisTransientError("the axis was down", operation="sendEdoc", http_status=503)
        return f"remote-{job.delivery_id}"


async def test_a_failure_recorded_after_a_success_s_wake_up_is_woken_by_the_next_success(
    live_store: Store, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    failing, succeeding, later = await _accepted(live_store, blobs, 3)
    dispatcher = Dispatcher(
        live_store,
        blobs,
        {"axis": Script(failing)},
        retry=RetryPolicy(delays_seconds=(60.0,), jitter=0.0),
    )
    _record_after_the_wake(dispatcher, live_store, failing)
    job = functools.partial(_job, live_store)
    failing_job, succeeding_job = await job(failing), await job(succeeding)
    first = asyncio.create_task(dispatcher.perform(failing_job))  # fails; not yet recorded
    await asyncio.sleep(0.05)
    await dispatcher.perform(succeeding_job)  # goes through and wakes what waits
    assert (await asyncio.wait_for(first, 10)).state == "retry_wait"  # recorded after
    await dispatcher.perform(await job(later))  # the next success
    assert await _due_now(live_store, failing)  # not after the schedule's 60 s
