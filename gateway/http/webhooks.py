"""Webhooks: the gateway tells a QLVB about inbound documents and its documents' states.

A client registers one URL (``PUT /api/v1/webhook``) and gets a secret. Each event is a
JSON body POSTed with ``X-Edxml-Event``, ``X-Edxml-Delivery`` (its id), ``X-Edxml-Timestamp``
(Unix seconds) and ``X-Edxml-Signature: sha256=<hex>``, the HMAC-SHA256 with that secret of
``<timestamp>.<body>``: the QLVB checks it came from us and is fresh (a captured body cannot
be replayed later with a new timestamp). Events are written to ``webhook_deliveries`` first
(the delivery log), then sent by ``webhook_sender.run_webhooks``: a 2xx answer is success;
anything else is retried after 10 s, 1 min, 5 min, 30 min, 2 h, then the delivery is ``failed``.

Only URLs the settings allow are registered and reached (``adapters.url_policy``: schemes,
trusted hosts, reachable networks; anything else must be a public address), checked again at
every connection and on each redirect, which is followed by POSTing the body again.

Events: ``inbound.document`` (a document for one of the client's agencies was accepted or
rejected by our checks), ``inbound.recall`` (its sender took it back: status 13, answered
15) and ``delivery.state`` (a recipient's state of a document the client sent changed).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import edxml
from adapters.store.store import StateChange, Store
from adapters.url_policy import UrlPolicy
from gateway.delivery.batching import Linger
from gateway.http.api.clients import ApiClient
from gateway.inbound.pipeline import InboundResult

__all__ = ["WebhookEvents", "register_webhook"]

log = logging.getLogger(__name__)

#: While busy, how long a batch of state changes waits for more (the sender looks once a second)
LINGER = 0.2


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
    registered a webhook. While busy, a batch waits ``linger`` seconds for the changes of
    the next transactions: the sender looks for due events once a second, so a QLVB sees
    no difference, where each batch saved is a read and a write transaction.
    """

    BATCH = 500

    def __init__(self, store: Store, *, linger: float = LINGER) -> None:
        self._store = store
        self._linger = Linger(linger)
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
            await self._linger.before_batch(len(self._changes), self.BATCH)
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
