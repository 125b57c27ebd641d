"""Webhooks: registered by the QLVB, signed with its secret, retried, logged."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web

from adapters.store.schema import webhook_deliveries
from gateway.api.app import PREFIX
from gateway.webhooks import DELAYS, WebhookEvents, run_webhooks

from .harness import Gateway, _key, _record


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]], list[int]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    failures: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=failures.pop(0) if failures else 204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/hook", received, failures
    await runner.cleanup()


async def test_inbound_documents_and_state_changes_reach_the_qlvb_signed(
    gateways: tuple[Gateway, Gateway],
    receiver: tuple[str, list[tuple[dict[str, str], bytes]], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = gateways
    url, received, failures = receiver
    monkeypatch.setattr("gateway.webhooks.DELAYS", (0.05,) * len(DELAYS))
    events_a, events_b = WebhookEvents(a.store), WebhookEvents(b.store)
    a.store.listeners.append(events_a.on_change)
    b.pipeline.listeners.append(events_b.on_inbound)
    auth_a, auth_b = await _key(a, ["*.H42"]), await _key(b, ["000.00.00.G22"])
    async with aiohttp.ClientSession() as http:
        async with http.put(f"{b.url}{PREFIX}/webhook", json={"url": url}, headers=auth_b) as r:
            secret_b = (await r.json())["secret"]
        async with http.put(f"{a.url}{PREFIX}/webhook", json={"url": url}, headers=auth_a) as r:
            secret_a = (await r.json())["secret"]
        async with http.put(
            f"{a.url}{PREFIX}/webhook", json={"url": "ftp://x"}, headers=auth_a
        ) as r:
            assert r.status == 400
        async with http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth_a) as r:
            assert r.status == 202
        await a.deliver()
        await b.poll()
        await events_a.drain()
        await events_b.drain()
        failures.extend([500, 503])  # the QLVB is down for the first two tries
        stop = asyncio.Event()
        senders = [
            asyncio.create_task(run_webhooks(g.store, stop=stop, idle_seconds=0.02)) for g in (a, b)
        ]

        async def pending() -> int:
            total = 0
            for gateway in (a, b):
                async with gateway.store.engine.connect() as connection:
                    total += (
                        await connection.scalar(
                            sa.select(sa.func.count())
                            .select_from(webhook_deliveries)
                            .where(webhook_deliveries.c.state == "pending")
                        )
                        or 0
                    )
            return total

        for _ in range(500):
            if not await pending():
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*senders)
        async with http.get(f"{b.url}{PREFIX}/webhook/deliveries", headers=auth_b) as r:
            (logged,) = (await r.json())["items"]
    inbound = [(h, body) for h, body in received if h["X-Edxml-Event"] == "inbound.document"]
    headers, body = inbound[-1]
    assert (
        headers["X-Edxml-Signature"]
        == "sha256=" + hmac.new(secret_b.encode(), body, hashlib.sha256).hexdigest()
    )
    payload = json.loads(body)
    assert (payload["recipient"], payload["state"]) == ("000.00.00.G22", "accepted")
    assert logged["state"] == "sent"
    states = [json.loads(body) for h, body in received if h["X-Edxml-Event"] == "delivery.state"]
    assert {(s["from"], s["to"]) for s in states} >= {("queued", "sending"), ("sending", "sent")}
    for h, body in received:
        if h["X-Edxml-Event"] == "delivery.state":
            assert h["X-Edxml-Signature"].endswith(
                hmac.new(secret_a.encode(), body, hashlib.sha256).hexdigest()
            )
    assert (
        sum(1 for h, _ in received if h["X-Edxml-Delivery"] == received[0][0]["X-Edxml-Delivery"])
        >= 2
    )  # retried
