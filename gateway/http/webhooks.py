"""Webhooks: the gateway tells a QLVB about inbound documents and its documents' states.

A client registers one URL (``PUT /api/v1/webhook``) and gets a secret. Each event is a
JSON body POSTed with ``X-Edxml-Event``, ``X-Edxml-Delivery`` (its id), ``X-Edxml-Timestamp``
(Unix seconds) and ``X-Edxml-Signature: sha256=<hex>``, the HMAC-SHA256 with that secret of
``<timestamp>.<body>``: the QLVB checks it came from us and is fresh (a captured body cannot
be replayed later with a new timestamp). Events are written to ``webhook_deliveries`` first
(the delivery log), then sent by ``run_webhooks``: a 2xx answer is success; anything else is
retried after 10 s, 1 min, 5 min, 30 min, 2 h, then the delivery is ``failed``.

Only URLs the settings allow are registered and reached (``adapters.url_policy``: schemes,
trusted hosts, reachable networks; anything else must be a public address), checked again at
every connection and on each redirect, which is followed by POSTing the body again.

Events: ``inbound.document`` (a document for one of the client's agencies was accepted or
rejected by our checks), ``inbound.recall`` (its sender took it back: status 13, answered
15) and ``delivery.state`` (a recipient's state of a document the client sent changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import sqlalchemy as sa
from yarl import URL

from adapters.signed_posts import signed_headers
from adapters.store.schema import api_clients, deliveries, messages, webhook_deliveries
from adapters.store.store import StateChange, Store, utc_now
from adapters.url_policy import BlockedUrl, GuardedResolver, UrlPolicy
from gateway.http.api.clients import ApiClient
from gateway.inbound.pipeline import InboundResult

__all__ = [
    "DELAYS",
    "WebhookEvents",
    "register_webhook",
    "run_webhooks",
]

log = logging.getLogger(__name__)
DELAYS = (10.0, 60.0, 300.0, 1800.0, 7200.0)


#: Redirects followed for one webhook delivery, each target checked against the policy.
MAX_REDIRECTS = 3


async def register_webhook(
    store: Store, client: ApiClient, url: str | None, policy: UrlPolicy
) -> str | None:
    """Set (or, with None, remove) the client's URL; returns the new signing secret.
    ``BlockedUrl`` when the settings do not allow that URL."""
    if url is not None:
        await policy.check_resolved(url)
    secret = secrets.token_urlsafe(32) if url else None
    async with store.engine.begin() as connection:
        await connection.execute(
            api_clients.update()
            .where(api_clients.c.id == client.id)
            .values(webhook_url=url, webhook_secret=secret)
        )
    return secret


class WebhookEvents:
    """Turns inbound results and state changes into logged webhook deliveries."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Callable[[], Any]) -> None:
        task = asyncio.ensure_future(work())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def on_inbound(self, result: InboundResult) -> None:
        if result.message_id is not None and result.outcome in ("accepted", "rejected", "recall"):
            message_id = result.message_id
            self._spawn(lambda: self._inbound(message_id, result))

    def on_change(self, change: StateChange) -> None:
        self._spawn(lambda: self._change(change))

    async def _clients(self) -> list[Any]:
        async with self._store.engine.connect() as connection:
            return list(
                (
                    await connection.execute(
                        sa.select(api_clients).where(
                            api_clients.c.webhook_url.is_not(None),
                            api_clients.c.revoked_at.is_(None),
                        )
                    )
                ).all()
            )

    async def _log(self, client_id: str, event: str, payload: dict[str, Any]) -> None:
        async with self._store.engine.begin() as connection:
            await connection.execute(
                webhook_deliveries.insert().values(
                    id=str(uuid.uuid4()),
                    client_id=client_id,
                    event=event,
                    payload=json.dumps(
                        {"event": event, **payload}, ensure_ascii=False, default=str
                    ),
                    state="pending",
                    next_attempt_at=utc_now(),
                    created_at=utc_now(),
                )
            )

    async def _inbound(self, message_id: str, result: InboundResult) -> None:
        async with self._store.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(messages).where(messages.c.id == message_id))
            ).first()
        if row is None:
            return
        for client in await self._clients():
            agencies = ApiClient(client.id, client.name, tuple(json.loads(client.agencies)))
            if agencies.may_act_for(row.recipient or ""):
                await self._log(
                    client.id,
                    "inbound.recall" if result.outcome == "recall" else "inbound.document",
                    {
                        "id": row.id,
                        "document_id": row.document_id,
                        "sender": row.sender,
                        "recipient": row.recipient,
                        "subject": row.subject,
                        "state": result.outcome,
                        "reasons": list(result.reasons),
                        "url": f"/api/v1/inbox/{row.id}",
                    },
                )

    async def _change(self, change: StateChange) -> None:
        async with self._store.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(
                        messages.c.id,
                        messages.c.client_id,
                        messages.c.document_id,
                        deliveries.c.recipient,
                    )
                    .join(deliveries, deliveries.c.message_id == messages.c.id)
                    .where(deliveries.c.id == change.delivery_id)
                )
            ).first()
        if row is None or row.client_id is None or change.from_state == change.to_state:
            return
        if row.client_id not in {client.id for client in await self._clients()}:
            return
        await self._log(
            row.client_id,
            "delivery.state",
            {
                "document": row.id,
                "document_id": row.document_id,
                "delivery": change.delivery_id,
                "recipient": row.recipient,
                "from": change.from_state,
                "to": change.to_state,
                "source": change.source,
                "at": change.at.isoformat(),
            },
        )


async def _post(
    http: aiohttp.ClientSession, policy: UrlPolicy, url: str, body: bytes, headers: dict[str, str]
) -> str | None:
    """POST the body, following redirects each checked against the policy; the error, if any."""
    for _ in range(MAX_REDIRECTS + 1):
        target = policy.check_url(url)
        async with http.post(target, data=body, headers=headers, allow_redirects=False) as answer:
            if answer.status in (301, 302, 303, 307, 308) and "Location" in answer.headers:
                url = str(target.join(URL(answer.headers["Location"])))
                continue
            if not 200 <= answer.status < 300:
                return f"HTTP {answer.status}"
            return None
    return f"more than {MAX_REDIRECTS} redirects"


async def _send_due(
    store: Store, http: aiohttp.ClientSession, batch: int, policy: UrlPolicy
) -> int:
    now = utc_now()
    async with store.engine.connect() as connection:
        due = (
            await connection.execute(
                sa.select(
                    webhook_deliveries, api_clients.c.webhook_url, api_clients.c.webhook_secret
                )
                .join(api_clients, api_clients.c.id == webhook_deliveries.c.client_id)
                .where(
                    webhook_deliveries.c.state == "pending",
                    webhook_deliveries.c.next_attempt_at <= now,
                )
                .order_by(webhook_deliveries.c.created_at)
                .limit(batch)
            )
        ).all()
    for row in due:
        body = row.payload.encode()
        error = None
        if not row.webhook_url or not row.webhook_secret:
            error = "the client removed its webhook"
        else:
            headers = signed_headers(row.webhook_secret, body, row.event)
            headers["X-Edxml-Delivery"] = row.id
            try:
                error = await _post(http, policy, row.webhook_url, body, headers)
            except BlockedUrl as exc:
                error = f"refused by the settings: {exc}"
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": error}
        if error is None:
            values.update(state="sent", sent_at=utc_now(), next_attempt_at=None)
        elif attempts > len(DELAYS):
            values.update(state="failed", next_attempt_at=None)
        else:
            values["next_attempt_at"] = utc_now() + dt.timedelta(seconds=DELAYS[attempts - 1])
        async with store.engine.begin() as connection:
            await connection.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == row.id)
                .values(**values)
            )
    return len(due)


async def run_webhooks(
    store: Store,
    *,
    stop: asyncio.Event,
    policy: UrlPolicy,
    idle_seconds: float = 1.0,
    batch: int = 50,
    timeout: float = 10.0,
) -> None:
    """Send due webhook deliveries until ``stop``, only to what ``policy`` allows."""
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout),
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(policy)),
    ) as http:
        while not stop.is_set():
            try:
                sent = await _send_due(store, http, batch, policy)
            except sa.exc.SQLAlchemyError as exc:  # the store is away: try again later
                log.warning("webhooks: %s", exc)
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_seconds)
