"""Sending webhooks: several requests to a QLVB at once, each delivery's events in order,
each client on its own, and a QLVB that is down costing one failure per retry; logging
them: the state changes of a busy spell together."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web

from adapters.store.records import as_utc
from adapters.store.schema import webhook_deliveries
from adapters.store.store import NewDelivery, NewMessage, Store, utc_now
from gateway.http.webhook_sender import DELAYS, REQUESTS_PER_CLIENT, run_webhooks
from gateway.http.webhooks import WebhookEvents

from .flows import hooked_qlvbs
from .harness import LOOPBACK


async def _rows(store: Store) -> list[Any]:
    async with store.engine.connect() as connection:
        return list(
            await connection.execute(
                sa.select(
                    webhook_deliveries.c.client_id,
                    webhook_deliveries.c.state,
                    webhook_deliveries.c.attempts,
                    webhook_deliveries.c.last_error,
                    webhook_deliveries.c.next_attempt_at,
                ).order_by(webhook_deliveries.c.created_at)
            )
        )


def _due_at(row: Any) -> dt.datetime:
    due_at = as_utc(row.next_attempt_at)
    assert due_at is not None
    return due_at


@pytest.fixture
async def sender(store: Store) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Starts ``run_webhooks`` on the store (once); stopped and awaited at the end."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def start(**options: Any) -> None:
        tasks.append(
            asyncio.create_task(
                run_webhooks(store, stop=stop, policy=LOOPBACK, idle_seconds=0.05, **options)
            )
        )

    yield start
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_a_batch_of_events_is_due_in_the_order_it_was_logged(store: Store) -> None:
    """The changes of one delivery are often logged in one batch (``queued -> sending`` and
    ``sending -> sent`` of a fast send): the rows of a batch must come due in its order."""
    await store.add_client("qlvb", "qlvb", "0" * 64, ["*.H42"])
    await store.set_webhook("qlvb", "http://127.0.0.1:9/hook", "secret")
    await store.log_webhooks([("qlvb", "delivery.state", {"n": n}) for n in range(60)])
    due = await store.due_webhooks(100)
    assert [json.loads(row["payload"])["n"] for row in due] == list(range(60))


async def test_a_qlvb_gets_several_requests_at_once_and_each_delivery_s_events_in_order(
    store: Store, sender: Callable[..., Awaitable[None]]
) -> None:
    """One request at a time fell behind a busy day's changes for a QLVB a network away."""
    in_flight, most, received = 0, 0, []
    all_received = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.05)  # a QLVB a network away
        received.append(json.loads(await request.read()))
        in_flight -= 1
        if len(received) == 24:
            all_received.set()
        return web.Response(status=204)

    async with hooked_qlvbs(store, qlvb=hook):
        await store.log_webhooks(
            [
                ("qlvb", "delivery.state", {"delivery": f"d{d}", "step": step})
                for d in range(8)
                for step in range(3)
            ]
        )
        await sender()
        await asyncio.wait_for(all_received.wait(), 10)
    assert most == REQUESTS_PER_CLIENT
    for d in range(8):
        assert [e["step"] for e in received if e["delivery"] == f"d{d}"] == [0, 1, 2]


async def test_a_slow_qlvb_does_not_hold_another_client_s_next_events(
    store: Store, sender: Callable[..., Awaitable[None]]
) -> None:
    """Before, a pass waited for every client of its batch: a QLVB that held its requests
    for the whole timeout held every other client's next events as long."""
    fast_received: list[bytes] = []
    arrived, released = asyncio.Event(), asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await released.wait()
        return web.Response(status=204)

    async def fast(request: web.Request) -> web.Response:
        fast_received.append(await request.read())
        arrived.set()
        return web.Response(status=204)

    async with hooked_qlvbs(store, silent=silent, fast=fast):
        await store.log_webhooks([("silent", "delivery.state", {"delivery": "s"})])
        await store.log_webhooks([("fast", "delivery.state", {"delivery": "first"})])
        await sender(timeout=30)
        await asyncio.wait_for(arrived.wait(), 5)
        arrived.clear()
        await store.log_webhooks([("fast", "delivery.state", {"delivery": "second"})])
        await asyncio.wait_for(arrived.wait(), 5)  # the silent QLVB still holds its request
        released.set()
    assert [json.loads(body)["delivery"] for body in fast_received] == ["first", "second"]


async def _until_none_due(store: Store) -> list[Any]:
    for _ in range(200):
        rows = await _rows(store)
        if all(row.state != "pending" or _due_at(row) > utc_now() for row in rows):
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError("events still due")


@pytest.mark.parametrize("answer", [503, 429, None])
async def test_a_qlvb_found_unavailable_is_not_sent_the_rest_of_its_batch(
    store: Store, sender: Callable[..., Awaitable[None]], answer: int | None
) -> None:
    """A QLVB that is down cost one failed request (or timeout) per event, every pass; now
    one per round of retries, each event failing on its own schedule all the same."""
    calls = 0

    async def down(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if answer is None:  # the connection dropped without an answer
            assert request.transport is not None
            request.transport.close()
        return web.Response(status=answer or 500)

    async with hooked_qlvbs(store, qlvb=down):
        await store.log_webhooks(
            [("qlvb", "delivery.state", {"delivery": f"d{d}"}) for d in range(10)]
        )
        await sender(requests_per_client=1)
        rows = await _until_none_due(store)
    assert calls == 1
    first, *rest = rows
    assert (first.state, first.attempts) == ("pending", 1)
    if answer:
        assert first.last_error == f"HTTP {answer}"
    else:
        assert first.last_error.startswith("ServerDisconnectedError")
    assert {(row.state, row.attempts, row.last_error) for row in rest} == {
        ("pending", 1, f"not sent: the QLVB was unavailable ({first.last_error})")
    }
    for row in rows:
        assert DELAYS[0] - 2 < (_due_at(row) - utc_now()).total_seconds() <= DELAYS[0]


async def test_an_event_the_qlvb_refuses_holds_back_only_itself(
    store: Store, sender: Callable[..., Awaitable[None]]
) -> None:
    """A refusal of one event (400, 500) is about that event: the others go on."""

    async def picky(request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        return web.Response(status={"bad": 400, "broken": 500}.get(payload["delivery"], 204))

    async with hooked_qlvbs(store, qlvb=picky):
        await store.log_webhooks(
            [
                ("qlvb", "delivery.state", {"delivery": name})
                for name in ("bad", "a", "broken", "b", "c")
            ]
        )
        await sender(requests_per_client=1)
        rows = await _until_none_due(store)
    assert [(row.state, row.attempts, row.last_error) for row in rows] == [
        ("pending", 1, "HTTP 400"),
        ("sent", 1, None),
        ("pending", 1, "HTTP 500"),
        ("sent", 1, None),
        ("sent", 1, None),
    ]


@pytest.mark.parametrize(("linger", "batches"), [(0.0, 5), (0.2, 2)])
async def test_while_busy_state_changes_wait_to_be_logged_together(
    store: Store, monkeypatch: pytest.MonkeyPatch, linger: float, batches: int
) -> None:
    """Transactions that commit one after another each made a batch of webhook rows (a
    read and a write transaction each); while busy, the next batch waits for company, and
    after a quiet spell the first goes at once."""
    await store.add_client("qlvb", "qlvb", "0" * 64, ["*.H42"])
    await store.set_webhook("qlvb", "http://127.0.0.1:9/hook", "secret")
    recipients = [NewDelivery(f"000.00.{n:02}.H42", "axis") for n in range(2, 7)]
    message = NewMessage(
        direction="out",
        document_id="000.00.01.H42,2026/12/07,1/UBND-VP",
        sender="000.00.01.H42",
        package_ref="ref",
        package_size=1,
        client_id="qlvb",
    )
    _, delivery_ids = await store.accept(message, recipients)
    logged: list[int] = []
    log_webhooks = store.log_webhooks

    async def counted(events: list[tuple[str, str, dict[str, Any]]]) -> None:
        logged.append(len(events))
        await log_webhooks(events)

    monkeypatch.setattr(store, "log_webhooks", counted)
    events = WebhookEvents(store, linger=linger)
    store.listeners.append(events.on_change)
    for delivery_id in delivery_ids:  # one claim, one transaction, one change at a time
        await store.claim_many([delivery_id], lease_seconds=30)
        await asyncio.sleep(0.03)
    await events.drain()
    assert len(logged) == batches
    assert sum(logged) == len(recipients)
    assert len(await store.due_webhooks(100)) == len(recipients)
