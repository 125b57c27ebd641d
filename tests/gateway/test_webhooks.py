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
from adapters.store.store import Store
from adapters.url_policy import BlockedUrl, GuardedResolver, UrlPolicy
from gateway.http.api.app import PREFIX
from gateway.http.webhook_sender import DELAYS, run_webhooks
from gateway.http.webhooks import WebhookEvents

from .flows import hooked_qlvbs, serving
from .harness import LOOPBACK, Gateway, _key, _record


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
    async with serving(app) as base:
        yield f"{base}/hook", received, failures


async def test_inbound_documents_and_state_changes_reach_the_qlvb_signed(
    gateways: tuple[Gateway, Gateway],
    receiver: tuple[str, list[tuple[dict[str, str], bytes]], list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = gateways
    url, received, failures = receiver
    monkeypatch.setattr("gateway.http.webhook_sender.DELAYS", (0.05,) * len(DELAYS))
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
            asyncio.create_task(
                run_webhooks(g.store, stop=stop, policy=LOOPBACK, idle_seconds=0.02)
            )
            for g in (a, b)
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
    signed = headers["X-Edxml-Timestamp"].encode() + b"." + body
    assert (
        headers["X-Edxml-Signature"]
        == "sha256=" + hmac.new(secret_b.encode(), signed, hashlib.sha256).hexdigest()
    )
    payload = json.loads(body)
    assert (payload["recipient"], payload["state"]) == ("000.00.00.G22", "accepted")
    assert logged["state"] == "sent"
    states = [json.loads(body) for h, body in received if h["X-Edxml-Event"] == "delivery.state"]
    assert {(s["from"], s["to"]) for s in states} >= {("queued", "sending"), ("sending", "sent")}
    for h, body in received:
        if h["X-Edxml-Event"] == "delivery.state":
            signed = h["X-Edxml-Timestamp"].encode() + b"." + body
            assert h["X-Edxml-Signature"].endswith(
                hmac.new(secret_a.encode(), signed, hashlib.sha256).hexdigest()
            )
    assert (
        sum(1 for h, _ in received if h["X-Edxml-Delivery"] == received[0][0]["X-Edxml-Delivery"])
        >= 2
    )  # retried


async def test_webhook_urls_are_only_those_the_settings_allow(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """Before, a client could make the gateway POST to loopback, private networks or the
    database's port. By default only public HTTPS is allowed; a LAN is listed explicitly."""
    a, _ = gateways
    assert a.context is not None
    a.context.webhook_policy = UrlPolicy()  # the default settings
    auth = await _key(a, ["*.H42"])
    refused = [
        "http://qlvb.example.gov.vn/hook",  # http is not allowed by default
        "https://127.0.0.1/hook",
        "https://127.0.0.1:5432/",  # the database's port
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",  # a name that resolves to loopback
    ]
    async with aiohttp.ClientSession() as http:
        for url in refused:
            async with http.put(f"{a.url}{PREFIX}/webhook", json={"url": url}, headers=auth) as r:
                assert r.status == 422, url
                assert (await r.json())["problems"][0]["rule"] == "webhooks.allowed"
    async with a.store.engine.connect() as connection:
        from adapters.store.schema import api_clients

        assert set((await connection.execute(sa.select(api_clients.c.webhook_url))).scalars()) == {
            None
        }


async def test_a_redirect_to_a_forbidden_address_is_not_followed(
    gateways: tuple[Gateway, Gateway],
) -> None:
    """The check holds at delivery, after redirects: a hook that answers 307 towards an
    address the settings do not allow never gets the body there."""
    a, _ = gateways
    reached: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        reached.append(request.path)
        if request.path == "/hook":
            raise web.HTTPTemporaryRedirect("http://127.0.0.2:5432/steal")
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    only_this_host = UrlPolicy.of(schemes=["http"], hosts=[], networks=["127.0.0.1/32"])
    async with serving(app) as base:
        assert a.context is not None
        a.context.webhook_policy = only_this_host
        auth = await _key(a, ["*.H42"])
        async with (
            aiohttp.ClientSession() as http,
            http.put(
                f"{a.url}{PREFIX}/webhook",
                json={"url": f"{base}/hook"},
                headers=auth,
            ) as r,
        ):
            assert r.status == 200
        events = WebhookEvents(a.store)
        a.store.listeners.append(events.on_change)
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{a.url}{PREFIX}/documents", json=_record(), headers=auth) as r,
        ):
            assert r.status == 202
        await events.drain()
        stop = asyncio.Event()
        sender = asyncio.create_task(
            run_webhooks(a.store, stop=stop, policy=only_this_host, idle_seconds=0.02)
        )
        for _ in range(200):
            async with a.store.engine.connect() as connection:
                errors = list(
                    (await connection.execute(sa.select(webhook_deliveries.c.last_error))).scalars()
                )
            if errors and all(errors):
                break
            await asyncio.sleep(0.02)
        stop.set()
        await sender
    assert reached
    assert set(reached) == {"/hook"}
    assert all("refused by the settings" in (e or "") for e in errors)


async def test_the_resolver_drops_addresses_the_policy_does_not_allow() -> None:
    """A name is checked when it is resolved for the connection (DNS rebinding)."""
    resolver = GuardedResolver(UrlPolicy(schemes=frozenset({"http"})))
    try:
        with pytest.raises(BlockedUrl, match="settings do not allow"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
    allowed = GuardedResolver(UrlPolicy.of(schemes=["http"], hosts=[], networks=["127.0.0.0/8"]))
    try:
        assert {r["host"] for r in await allowed.resolve("localhost", 80)} == {"127.0.0.1"}
    finally:
        await allowed.close()


async def test_a_qlvb_that_never_answers_delays_only_its_own_events_and_not_the_stop(
    store: Store,
) -> None:
    """Before, events were sent one after another: a QLVB that held each request for the
    10 s timeout held every other client's events, and a stopping gateway waited for it."""
    fast_received: list[bytes] = []
    answered, released = asyncio.Event(), asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await released.wait()  # until the test ends: longer than the sender's stop
        return web.Response(status=204)

    async def fast(request: web.Request) -> web.Response:
        fast_received.append(await request.read())
        if len(fast_received) == 5:
            answered.set()
        return web.Response(status=204)

    async with hooked_qlvbs(store, silent=silent, fast=fast):
        for number in range(5):  # the silent client's events come first
            await store.log_webhooks([("silent", "delivery.state", {"n": number})])
        await store.log_webhooks([("fast", "delivery.state", {"n": n}) for n in range(5)])
        stop = asyncio.Event()
        sender = asyncio.create_task(run_webhooks(store, stop=stop, policy=LOOPBACK))
        await asyncio.wait_for(answered.wait(), 3)
        loop = asyncio.get_running_loop()
        stopping = loop.time()
        stop.set()
        await asyncio.wait_for(sender, 3)
        assert loop.time() - stopping < 1.5
        released.set()
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.select(
                    webhook_deliveries.c.client_id,
                    webhook_deliveries.c.state,
                    webhook_deliveries.c.attempts,
                )
            )
        ).all()
    assert sorted(set(rows)) == [("fast", "sent", 1), ("silent", "pending", 0)]
