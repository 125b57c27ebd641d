"""A delivery held back by an open circuit while the trial that closes it is in flight: its
outcome can be recorded after the trial's success has woken the waiting deliveries. The next
success must wake it too, or it sits out the circuit's wait (30 s and more) while the
destination answers again."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from adapters.axis.client import AxisTransientError
from adapters.blobs import BlobStore
from adapters.store.records import as_utc
from adapters.store.store import DeliveryJob, Store, utc_now
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.retry import RetryPolicy

from .flows import accept_numbered

VPCP = "000.00.00.G22"


class Gate:
    """The axis as the test lets it answer: down for the first call, then each call waits
    until the test opens its gate."""

    name = "axis"
    can_look_up = False
    idempotent = False

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()

    async def deliver(self, job: DeliveryJob, package: bytes) -> str | None:
        self.calls += 1
        if self.calls == 1:
            raise AxisTransientError("the axis is down", operation="sendEdoc", http_status=503)
        await self.gate.wait()
        return f"remote-{self.calls}"

    async def find_delivered(self, job: DeliveryJob) -> list[str]:
        return []

    async def probe(self) -> bool:
        return False


async def test_a_delivery_held_while_the_trial_succeeds_is_woken_by_the_next_success(
    live_store: Store, tmp_path: Path
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    ids = [await accept_numbered(live_store, blobs, number, (VPCP,)) for number in range(4)]
    deliveries = [(await live_store.message(i)).deliveries[0].id for i in ids]  # type: ignore[union-attr]
    failing, trial, held, later = deliveries
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
    # The held delivery's outcome is recorded only once the trial's wake-up has run.
    woken = asyncio.Event()
    record, wake = dispatcher._record, live_store.wake_route

    async def record_after_the_wake(job: DeliveryJob, state: str, detail: str, **kw: Any) -> Any:
        if job.delivery_id == held:
            await woken.wait()
        return await record(job, state, detail, **kw)

    async def wake_and_tell(route: str, *, source: str = "dispatcher") -> int:
        count = await wake(route, source=source)
        woken.set()
        return count

    dispatcher._record = record_after_the_wake  # type: ignore[method-assign]
    live_store.wake_route = wake_and_tell  # type: ignore[method-assign]

    async def job(delivery_id: str) -> DeliveryJob:
        claim = (await live_store.claim_many([delivery_id], lease_seconds=60))[delivery_id]
        assert claim.job is not None, claim
        return claim.job

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

    await dispatcher.perform(await job(later))  # the next success
    (row,) = (await live_store.message(ids[2])).deliveries  # type: ignore[union-attr]
    assert row.state == "retry_wait"
    next_at = as_utc(row.next_attempt_at)
    assert next_at is not None
    assert next_at <= utc_now()  # due now, not after the circuit's 30 s
