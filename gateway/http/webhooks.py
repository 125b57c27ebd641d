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
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from yarl import URL

import edxml
from adapters.signed_posts import signed_headers
from adapters.store.store import StateChange, Store, StoreError, WebhookAttempt, utc_now
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
    await store.set_webhook(client.id, url, secret)
    return secret


class WebhookEvents:
    """Turns inbound results and state changes into logged webhook deliveries.

    State changes arrive from every committed transaction; they are buffered and handled in
    batches (one look-up of the clients with a webhook and one query for the whole batch),
    so a busy worker pays a query per batch, not per change, and nothing when no client has
    registered a webhook.
    """

    BATCH = 500

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: set[asyncio.Task[None]] = set()
        self._changes: list[StateChange] = []
        self._flushing: asyncio.Task[None] | None = None

    def _spawn(self, work: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def drain(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def on_inbound(self, result: InboundResult) -> None:
        if result.message_id is not None and result.outcome in ("accepted", "rejected", "recall"):
            message_id = result.message_id
            self._spawn(lambda: self._inbound(message_id, result))

    def on_change(self, change: StateChange) -> None:
        if change.from_state == change.to_state:
            return
        self._changes.append(change)
        if self._flushing is None or self._flushing.done():
            self._flushing = self._spawn(self._flush_changes)

    async def _flush_changes(self) -> None:
        while self._changes:
            batch, self._changes = self._changes[: self.BATCH], self._changes[self.BATCH :]
            try:
                await self._changed(batch)
            except Exception:  # a listener must not break the transaction's caller
                log.exception("webhooks: %d state changes not logged", len(batch))

    async def _inbound(self, message_id: str, result: InboundResult) -> None:
        row = await self._store.inbound_message_row(message_id)
        if row is None:
            return
        events = []
        for client in await self._store.hooked_clients():
            if edxml.matches_agency(row["recipient"] or "", client["agencies"]):
                events.append(
                    (
                        client["id"],
                        "inbound.recall" if result.outcome == "recall" else "inbound.document",
                        {
                            "id": row["id"],
                            "document_id": row["document_id"],
                            "sender": row["sender"],
                            "recipient": row["recipient"],
                            "subject": row["subject"],
                            "state": result.outcome,
                            "reasons": list(result.reasons),
                            "url": f"/api/v1/inbox/{row['id']}",
                        },
                    )
                )
        await self._store.log_webhooks(events)

    async def _changed(self, changes: list[StateChange]) -> None:
        hooked = [client["id"] for client in await self._store.hooked_clients()]
        if not hooked:
            return
        rows = await self._store.deliveries_of([c.delivery_id for c in changes], hooked)
        events = []
        for change in changes:
            row = rows.get(change.delivery_id)
            if row is None:
                continue
            events.append(
                (
                    row["client_id"],
                    "delivery.state",
                    {
                        "document": row["id"],
                        "document_id": row["document_id"],
                        "delivery": change.delivery_id,
                        "recipient": row["recipient"],
                        "from": change.from_state,
                        "to": change.to_state,
                        "source": change.source,
                        "at": change.at.isoformat(),
                    },
                )
            )
        await self._store.log_webhooks(events)


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


async def _attempt(
    http: aiohttp.ClientSession, policy: UrlPolicy, row: dict[str, Any]
) -> WebhookAttempt:
    """Send one logged event; how it went, for the log."""
    body = row["payload"].encode()
    error = None
    if not row["webhook_url"] or not row["webhook_secret"]:
        error = "the client removed its webhook"
    else:
        headers = signed_headers(row["webhook_secret"], body, row["event"])
        headers["X-Edxml-Delivery"] = row["id"]
        try:
            error = await _post(http, policy, row["webhook_url"], body, headers)
        except BlockedUrl as exc:
            error = f"refused by the settings: {exc}"
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    attempts = row["attempts"] + 1
    if error is None:
        return WebhookAttempt(row["id"], attempts, None, "sent", None)
    if attempts > len(DELAYS):
        return WebhookAttempt(row["id"], attempts, error, "failed", None)
    next_at = utc_now() + dt.timedelta(seconds=DELAYS[attempts - 1])
    return WebhookAttempt(row["id"], attempts, error, "pending", next_at)


async def _send_due(
    store: Store, http: aiohttp.ClientSession, batch: int, policy: UrlPolicy, stop: asyncio.Event
) -> int:
    """Send a batch of due events: each client's in order, the clients side by side (a QLVB
    that does not answer delays only its own events). ``stop`` cuts the batch short; what
    was not answered yet stays due and is sent again later (at least once: the
    ``X-Edxml-Delivery`` id lets the QLVB drop a second copy). One transaction records them."""
    due = await store.due_webhooks(batch)
    if not due:
        return 0
    by_client: dict[str, list[dict[str, Any]]] = {}
    for row in due:
        by_client.setdefault(row["client_id"], []).append(row)
    done: list[WebhookAttempt] = []

    async def send(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            done.append(await _attempt(http, policy, row))

    sending: asyncio.Future[list[None]] = asyncio.gather(
        *(send(rows) for rows in by_client.values())
    )
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([sending, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not sending.done():
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
        await store.record_webhook_attempts(done)
    failure = None if sending.cancelled() else sending.exception()
    if failure is not None and not isinstance(failure, asyncio.CancelledError):
        raise failure  # a bug, not a QLVB's fault: the caller logs it
    return len(due)


async def run_webhooks(
    store: Store,
    *,
    stop: asyncio.Event,
    policy: UrlPolicy,
    idle_seconds: float = 1.0,
    batch: int = 200,
    timeout: float = 10.0,
) -> None:
    """Send due webhook deliveries until ``stop``, only to what ``policy`` allows."""
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout),
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(policy)),
    ) as http:
        while not stop.is_set():
            try:
                sent = await _send_due(store, http, batch, policy, stop)
            except StoreError as exc:  # the store is away: try again later
                log.warning("webhooks: %s", exc)
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), idle_seconds)
