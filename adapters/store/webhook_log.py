"""The webhook delivery log: events written for the clients that registered a URL, then sent
and retried (their state, attempts and last error kept for the client to read)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.bulk_rows import insert_rows, update_rows
from adapters.store.records import utc_now
from adapters.store.schema import api_clients, deliveries, messages, webhook_deliveries

__all__ = ["WebhookAttempt", "WebhookLog"]


class WebhookAttempt(NamedTuple):
    """How one send of a logged event went: ``sent``, ``pending`` again or ``failed``."""

    id: str
    attempts: int
    error: str | None
    state: str
    next_attempt_at: dt.datetime | None


#: How long another process's new or removed webhook may go unseen here: the list of hooked
#: clients is read at most this often, not at every batch of state changes.
HOOKED_CLIENTS_MAX_AGE = 2.0


class WebhookLog(StoreBase):
    async def set_webhook(self, client_id: str, url: str | None, secret: str | None) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                api_clients.update()
                .where(api_clients.c.id == client_id)
                .values(webhook_url=url, webhook_secret=secret)
            )
        self.forget_hooked_clients()

    async def hooked_clients(self) -> list[dict[str, Any]]:
        """Live clients with a webhook URL (their agencies decoded), as of at most
        ``HOOKED_CLIENTS_MAX_AGE`` seconds ago."""
        now = time.monotonic()
        if self._hooked is not None and now - self._hooked[0] < HOOKED_CLIENTS_MAX_AGE:
            return self._hooked[1]
        rows = await self._rows(
            sa.select(api_clients.c.id, api_clients.c.name, api_clients.c.agencies).where(
                api_clients.c.webhook_url.is_not(None), api_clients.c.revoked_at.is_(None)
            )
        )
        hooked = [{**row._asdict(), "agencies": tuple(json.loads(row.agencies))} for row in rows]
        self._hooked = (now, hooked)
        return hooked

    async def inbound_message_row(self, message_id: str) -> dict[str, Any] | None:
        rows = await self._rows(sa.select(messages).where(messages.c.id == message_id))
        return rows[0]._asdict() if rows else None

    async def deliveries_of(
        self, delivery_ids: Sequence[str], client_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """By delivery id: its message and recipient, for the deliveries of documents the
        given clients sent (one query for a whole batch of state changes).

        The rows are found by the deliveries' keys and their messages' keys only; the
        clients are picked out here. Filtered in SQL, the client made the messages table
        the planner's way in (a client's messages look few to it): every message the
        client ever sent read for each batch of changes.
        """
        if not delivery_ids or not client_ids:
            return {}
        rows = await self._rows(
            sa.select(
                deliveries.c.id.label("delivery_id"),
                messages.c.id,
                messages.c.client_id,
                messages.c.document_id,
                deliveries.c.recipient,
            )
            .select_from(deliveries)
            .join(messages, messages.c.id == deliveries.c.message_id)
            .where(deliveries.c.id.in_(list(delivery_ids)))
        )
        wanted = set(client_ids)
        return {str(row.delivery_id): row._asdict() for row in rows if row.client_id in wanted}

    async def log_webhooks(self, events: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Write (client id, event, payload) rows, due now, in one transaction."""
        if not events:
            return
        now = utc_now()
        async with self.engine.begin() as connection:
            await insert_rows(
                connection,
                webhook_deliveries,
                [
                    {
                        "id": str(uuid.uuid4()),
                        "client_id": client_id,
                        "event": event,
                        "payload": json.dumps(
                            {"event": event, **payload}, ensure_ascii=False, default=str
                        ),
                        "state": "pending",
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for client_id, event, payload in events
                ],
            )

    async def due_webhooks(
        self, batch: int, *, excluding: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Pending deliveries due now, oldest first, with their client's URL and secret;
        none of the clients ``excluding`` names (their sender is still busy)."""
        query = (
            sa.select(webhook_deliveries, api_clients.c.webhook_url, api_clients.c.webhook_secret)
            .join(api_clients, api_clients.c.id == webhook_deliveries.c.client_id)
            .where(
                webhook_deliveries.c.state == "pending",
                webhook_deliveries.c.next_attempt_at <= utc_now(),
            )
            .order_by(webhook_deliveries.c.created_at)
            .limit(batch)
        )
        if excluding:
            query = query.where(webhook_deliveries.c.client_id.not_in(excluding))
        rows = await self._rows(query)
        return [row._asdict() for row in rows]

    async def record_webhook_attempts(self, attempts: Sequence[WebhookAttempt]) -> None:
        """How a batch of sends went, in one transaction (one statement, many rows)."""
        if not attempts:
            return
        now = utc_now()
        async with self.engine.begin() as connection:
            await update_rows(
                connection,
                webhook_deliveries,
                "id",
                [
                    {
                        "id": a.id,
                        "attempts": a.attempts,
                        "last_error": a.error,
                        "state": a.state,
                        "next_attempt_at": a.next_attempt_at,
                        "sent_at": now if a.state == "sent" else None,
                    }
                    for a in attempts
                ],
            )
