"""What the REST API reads for a QLVB client: its documents, its inbox, its acknowledgements
and its webhook deliveries, each limited to the client's agencies in SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.patterns import matches_any
from adapters.store.records import utc_now
from adapters.store.schema import deliveries, inbox_acks, messages, webhook_deliveries

__all__ = ["ApiReads", "Page"]


class Page:
    """Which slice of a list: ``limit`` rows from ``offset``, created ``since`` (optional)."""

    def __init__(self, limit: int = 50, offset: int = 0, since: dt.datetime | None = None):
        self.limit, self.offset, self.since = limit, offset, since


class ApiReads(StoreBase):
    async def recipient_of(self, message_id: str) -> str | None:
        rows = await self._dicts(sa.select(messages.c.recipient).where(messages.c.id == message_id))
        value = rows[0]["recipient"] if rows else None
        return None if value is None else str(value)

    async def sender_of_delivery(self, delivery_id: str) -> str | None:
        rows = await self._dicts(
            sa.select(messages.c.sender)
            .join(deliveries, deliveries.c.message_id == messages.c.id)
            .where(deliveries.c.id == delivery_id)
        )
        return str(rows[0]["sender"]) if rows else None

    async def document_ids(
        self,
        agencies: Sequence[str],
        page: Page,
        *,
        state: str | None = None,
        recipient: str | None = None,
    ) -> list[str]:
        """Documents the agencies sent, newest first."""
        query = (
            sa.select(messages.c.id)
            .where(
                messages.c.direction == "out",
                messages.c.message_type == "edoc",
                matches_any(messages.c.sender, agencies),
            )
            .order_by(messages.c.created_at.desc(), messages.c.id)
            .limit(page.limit)
            .offset(page.offset)
        )
        if page.since is not None:
            query = query.where(messages.c.created_at >= page.since)
        if state:
            query = query.where(
                messages.c.id.in_(
                    sa.select(deliveries.c.message_id).where(deliveries.c.state == state)
                )
            )
        if recipient:
            query = query.where(
                messages.c.id.in_(
                    sa.select(deliveries.c.message_id).where(deliveries.c.recipient == recipient)
                )
            )
        return [str(row["id"]) for row in await self._dicts(query)]

    async def inbox(
        self,
        agencies: Sequence[str],
        client_id: str,
        page: Page,
        *,
        unacknowledged: bool = False,
    ) -> list[dict[str, Any]]:
        """Received documents for the agencies, most urgent then oldest first, each with
        ``acked_at`` (when this client acknowledged it, or None)."""
        query = (
            sa.select(messages, inbox_acks.c.acked_at)
            .select_from(
                messages.outerjoin(
                    inbox_acks,
                    sa.and_(
                        inbox_acks.c.message_id == messages.c.id,
                        inbox_acks.c.client_id == client_id,
                    ),
                )
            )
            .where(
                messages.c.direction == "in",
                messages.c.message_type == "edoc",
                matches_any(messages.c.recipient, agencies),
            )
            .order_by(messages.c.priority.desc(), messages.c.created_at, messages.c.id)
            .limit(page.limit)
            .offset(page.offset)
        )
        if page.since is not None:
            query = query.where(messages.c.created_at >= page.since)
        if unacknowledged:
            query = query.where(inbox_acks.c.acked_at.is_(None))
        return await self._dicts(query)

    async def inbound_message(self, message_id: str) -> dict[str, Any] | None:
        rows = await self._dicts(
            sa.select(messages, sa.literal(None).label("acked_at")).where(
                messages.c.id == message_id, messages.c.direction == "in"
            )
        )
        return rows[0] if rows else None

    async def acknowledge(self, message_id: str, client_id: str) -> None:
        """Record the client's acknowledgement (once; again is fine)."""
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    inbox_acks.insert().values(
                        message_id=message_id, client_id=client_id, acked_at=utc_now()
                    )
                )
        except sa.exc.IntegrityError:
            pass  # acknowledged before

    async def webhook_log(self, client_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await self._dicts(
            sa.select(webhook_deliveries)
            .where(webhook_deliveries.c.client_id == client_id)
            .order_by(webhook_deliveries.c.created_at.desc())
            .limit(limit)
        )
        return [{**row, "payload": json.loads(row["payload"])} for row in rows]
