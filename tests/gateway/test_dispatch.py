"""The delivery engine end to end: store + blob store + dispatcher + simulated axis + poller.

Every test runs on SQLite and on PostgreSQL (the ``live_store`` fixture).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

import edxml
from adapters.axis.client import AxisClient
from adapters.axis.poller import Handover, poll_once
from adapters.blobs import BlobStore
from adapters.store.store import NewDelivery, NewMessage, Store
from devtools.axis_simulator import AxisSimulator, FaultPlan
from gateway.delivery.destinations import AxisDestination
from gateway.delivery.dispatcher import Dispatcher
from gateway.delivery.embedded import run_embedded
from gateway.delivery.retry import RetryPolicy
from gateway.delivery.routing import RoutingTable
from gateway.inbound.pipeline import InboundPipeline
from gateway.inbound.seen import StoreSeenDocIds
from gateway.inbound.statuses import apply_status
from tests.adapters.conftest import client_for
from tests.factories import document, organization, status

from .flows import until

OFFICE, VPCP, TAY_NINH, H17 = "000.00.01.H42", "000.00.00.G22", "000.00.11.H53", "28.22.H17"
RECIPIENTS = (VPCP, TAY_NINH, H17)
SYSTEM_OF = {VPCP: "000.00.00.G22", TAY_NINH: "00.53.W00", H17: "00.17.W00"}
FAST_RETRY = RetryPolicy(delays_seconds=(0.05, 0.1, 0.2, 0.4, 0.8, 1.6), jitter=0.1)


async def _accept(
    store: Store, blobs: BlobStore, recipients: tuple[str, ...] = RECIPIENTS
) -> tuple[str, bytes]:
    package = document(recipients=tuple(organization(r) for r in recipients))
    data = edxml.build(package)
    ref = blobs.put(data)
    message_id, _ = await store.accept(
        NewMessage(
            direction="out",
            document_id=package.document_id or "",
            sender=OFFICE,
            code=str(package.code),
            subject=package.subject,
            package_ref=ref,
            package_size=len(data),
        ),
        [NewDelivery(r, "axis") for r in recipients],
    )
    return message_id, data


@pytest.fixture
async def engine_parts(
    live_store: Store,
    simulator: AxisSimulator,
    tmp_path: Path,
) -> AsyncIterator[tuple[Store, BlobStore, AxisClient, Dispatcher]]:
    blobs = BlobStore(tmp_path / "blobs")
    async with client_for(simulator, "00.42.W00") as axis:
        dispatcher = Dispatcher(
            live_store,
            blobs,
            {"axis": AxisDestination(axis)},
            retry=FAST_RETRY,
            limit_per_destination=3,
        )
        yield live_store, blobs, axis, dispatcher


async def _run_until(dispatcher: Dispatcher, condition: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_embedded(dispatcher, stop=stop, idle_seconds=0.02, lease_seconds=10)
    )
    try:
        await until(condition, timeout=20, step=0.02)
    finally:
        stop.set()
        await worker


async def _states(store: Store, message_id: str) -> dict[str, str]:
    view = await store.message(message_id, events=False)
    assert view is not None
    return {d.recipient: d.state for d in view.deliveries}


async def test_three_recipients_sent_then_01_03_06_with_exact_events(
    engine_parts: tuple[Store, BlobStore, AxisClient, Dispatcher],
    simulator: AxisSimulator,
) -> None:
    store, blobs, axis, dispatcher = engine_parts
    message_id, _ = await _accept(store, blobs)

    async def all_sent() -> bool:
        return set((await _states(store, message_id)).values()) == {"sent"}

    await _run_until(dispatcher, all_sent)
    # each recipient's system holds exactly one copy, addressed to it alone
    for recipient in RECIPIENTS:
        async with client_for(simulator, SYSTEM_OF[recipient]) as theirs:
            (item,) = await theirs.received_list()
            assert item.receivers == recipient
            for code in ("01", "03", "06"):
                report = status(
                    sender=organization(recipient), status_code=code, description=f"status {code}"
                )
                await theirs.send_edoc(edxml.build(report), sender=recipient, message_type="status")
    # the statuses come back through the poller and move the deliveries
    report = await poll_once(axis, _handover(store, blobs), StoreSeenDocIds(store))
    assert len(report.handed_over) == 9
    assert await _states(store, message_id) == dict.fromkeys(RECIPIENTS, "done")
    view = await store.message(message_id)
    assert view is not None
    for delivery in view.deliveries:
        assert [(e.to_state, e.source) for e in delivery.events] == [
            ("queued", "api"),
            ("sending", "dispatcher"),
            ("sent", "dispatcher"),
            ("arrived", "status:01"),
            ("accepted", "status:03"),
            ("done", "status:06"),
        ]
        assert delivery.status_code == "06"
        assert delivery.remote_id  # the axis' docId of that copy
    # a late 05 and a duplicate 06 change nothing
    for code in ("05", "06"):
        applied = await apply_status(store, status(sender=organization(VPCP), status_code=code))
        assert applied.moved == ()
        assert applied.matched
    assert (await _states(store, message_id))[VPCP] == "done"
    # the poller's memory is the store: a second pass hands nothing over again
    again = await poll_once(axis, _handover(store, blobs), StoreSeenDocIds(store))
    assert again.handed_over == []


async def test_a_poison_delivery_fails_with_its_reason_and_the_rest_flow(
    engine_parts: tuple[Store, BlobStore, AxisClient, Dispatcher],
) -> None:
    store, blobs, _, dispatcher = engine_parts
    message_id, _ = await _accept(store, blobs, (VPCP, "000.00.00.H99"))  # H99: unknown to the axis

    async def settled() -> bool:
        return (
            set((await _states(store, message_id)).values()) <= {"sent", "failed"}
            and len(await _states(store, message_id)) == 2
        )

    await _run_until(dispatcher, settled)
    view = await store.message(message_id)
    assert view is not None
    by_recipient = {d.recipient: d for d in view.deliveries}
    assert by_recipient[VPCP].state == "sent"
    poison = by_recipient["000.00.00.H99"]
    assert (poison.state, poison.attempts) == ("failed", 1)
    assert "unknown recipient" in (poison.last_error or "")
    # refused for good: not sent blindly again, and the axis is not "failing" for it
    assert poison.permanent
    assert not await store.requeue(poison.id)
    (axis,) = await store.destinations([OFFICE])
    assert axis["healthy"]
    assert axis["last_error"] == ""
    assert await store.requeue(poison.id, permanent_too=True)  # once the cause is corrected
    requeued = await store.message(message_id)
    assert requeued is not None
    assert not {d.recipient: d for d in requeued.deliveries}["000.00.00.H99"].permanent


async def test_an_outage_waits_with_growing_delays_within_the_limit_then_drains(
    engine_parts: tuple[Store, BlobStore, AxisClient, Dispatcher],
    simulator: AxisSimulator,
) -> None:
    store, blobs, _, dispatcher = engine_parts
    simulator.faults.set(FaultPlan(outage_seconds=1.0, latency_ms=20))
    message_ids = [(await _accept(store, blobs))[0] for _ in range(4)]
    peak = 0

    async def drained() -> bool:
        nonlocal peak
        peak = max(peak, dispatcher.in_flight.get("axis", 0))
        states = [s for m in message_ids for s in (await _states(store, m)).values()]
        return set(states) == {"sent"}

    await _run_until(dispatcher, drained)
    assert peak <= 3  # limit_per_destination
    view = await store.message(message_ids[0])
    assert view is not None
    delivery = view.deliveries[0]
    assert delivery.attempts >= 2
    # each failed attempt waited because of the 503, or because the axis' circuit was open
    # (then it was not called at all); a recovered axis wakes them
    waits = [e for e in delivery.events if (e.from_state, e.to_state) == ("sending", "retry_wait")]
    assert waits
    assert all("503" in (e.detail or "") or "circuit open" in (e.detail or "") for e in waits)
    # the simulator got each delivery exactly once, despite the retries
    assert simulator.hub.summary()["deliveries"] == 4 * len(RECIPIENTS)


async def test_transient_failures_past_the_schedule_end_in_failed(
    engine_parts: tuple[Store, BlobStore, AxisClient, Dispatcher],
    simulator: AxisSimulator,
) -> None:
    store, blobs, axis, _ = engine_parts
    short = Dispatcher(
        store,
        blobs,
        {"axis": AxisDestination(axis)},
        retry=RetryPolicy(delays_seconds=(0.01, 0.01), jitter=0),
    )
    simulator.faults.set(FaultPlan(error_rate=1.0))
    message_id, _ = await _accept(store, blobs, (VPCP,))

    async def failed() -> bool:
        return (await _states(store, message_id)) == {VPCP: "failed"}

    await _run_until(short, failed)
    view = await store.message(message_id)
    assert view is not None
    (delivery,) = view.deliveries
    assert delivery.attempts == 3
    assert "retry schedule is over" in (delivery.last_error or "")
    # requeued once the axis is back, it goes through
    simulator.faults.set(FaultPlan())
    assert await store.requeue(delivery.id)

    async def sent() -> bool:
        return (await _states(store, message_id)) == {VPCP: "sent"}

    await _run_until(short, sent)


def _handover(store: Store, blobs: BlobStore) -> Handover:
    """The gateway's inbound pipeline, as the poller's hand-over (status packages here)."""
    return InboundPipeline(store, blobs, RoutingTable(), ("*",)).handover()
