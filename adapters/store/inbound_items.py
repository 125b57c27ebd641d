"""What the axis and the hubs brought us: items by source and remote id (received once), and
the received documents' state (accepted, rejected, recalled), checks and links."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.folding import fold
from adapters.store.schema import deliveries, inbound_items, messages

__all__ = ["InboundStore"]


class InboundStore(StoreBase):
    async def inbound_seen(self, source: str, remote_id: str) -> bool:
        found = await self._rows(
            sa.select(inbound_items.c.id).where(
                inbound_items.c.source == source, inbound_items.c.remote_id == remote_id
            )
        )
        return bool(found)

    async def record_inbound(
        self,
        source: str,
        remote_id: str,
        *,
        message_type: str,
        outcome: str,
        message_id: str | None = None,
        detail: str | None = None,
    ) -> bool:
        """Remember an inbound item; False if it was already recorded (a redelivery)."""
        try:
            async with self._transaction() as connection:
                await connection.execute(
                    inbound_items.insert().values(
                        id=str(uuid.uuid4()),
                        source=source,
                        remote_id=remote_id,
                        message_type=message_type,
                        message_id=message_id,
                        outcome=outcome,
                        detail=detail,
                        received_at=self._clock(),
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    async def accepted_copy(
        self,
        document_id: str,
        sender: str,
        recipient: str,
        business_type: int,
        package_ref: str | None,
    ) -> str | None:
        """The id of an accepted copy of this document for ``recipient``: for a new document
        (type 0) any; for an update, replacement or recall, the very same package."""
        query = (
            sa.select(messages.c.id)
            .where(
                messages.c.direction == "in",
                messages.c.message_type == "edoc",
                messages.c.document_id == document_id,
                messages.c.sender == sender,
                messages.c.recipient == recipient,
                messages.c.business_type == business_type,
                messages.c.inbound_state.in_(("accepted", "recalled")),
            )
            .order_by(messages.c.created_at)
            .limit(1)
        )
        if package_ref is not None:
            query = query.where(messages.c.package_ref == package_ref)
        rows = await self._rows(query)
        return str(rows[0][0]) if rows else None

    async def last_status_sent(
        self, document_id: str, reporter: str
    ) -> tuple[dict[str, Any], bool, list[str]] | None:
        """The last status ``reporter`` sent about a document: its row, whether a copy of it
        is still on its way, and its recipients."""
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(messages)
                    .where(
                        messages.c.direction == "out",
                        messages.c.message_type == "status",
                        messages.c.document_id == document_id,
                        messages.c.sender == reporter,
                    )
                    .order_by(messages.c.created_at.desc())
                    .limit(1)
                )
            ).first()
            if row is None:
                return None
            waiting = await connection.scalar(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(
                    deliveries.c.message_id == row.id,
                    deliveries.c.state.in_(("queued", "sending", "retry_wait")),
                )
            )
            recipients = list(
                (
                    await connection.execute(
                        sa.select(deliveries.c.recipient).where(deliveries.c.message_id == row.id)
                    )
                ).scalars()
            )
        return row._asdict(), bool(waiting), [str(r) for r in recipients]

    async def set_inbound(
        self,
        message_id: str,
        *,
        state: str,
        recipient: str | None = None,
        checks: object = None,
        signature_failed: bool | None = None,
        original_id: str | None = None,
    ) -> None:
        """A received document's state, and what is known of it (each only when given)."""
        values: dict[str, object] = {"inbound_state": state}
        if original_id is not None:
            values["original_id"] = original_id
        if signature_failed is not None:
            values["signature_failed"] = signature_failed
        if recipient is not None:
            values["recipient"] = recipient
            values["search_text"] = messages.c.search_text + " " + fold(recipient)
        if checks is not None:
            values["checks"] = json.dumps(checks, ensure_ascii=False, default=str)
        async with self.engine.begin() as connection:
            await connection.execute(
                messages.update().where(messages.c.id == message_id).values(**values)
            )

    async def recall_received(
        self,
        document_id: str,
        sender: str,
        request_id: str,
        reason: str | None,
        *,
        state: str = "recalled",
    ) -> bool:
        """Mark the accepted document ``sender`` takes back as ``state`` (recalled, or
        recall_requested while a clerk decides), the request added to its checks (what the
        signature check found stays); False if none."""
        async with self.engine.begin() as connection:
            found = (
                await connection.execute(
                    sa.select(messages.c.id, messages.c.checks).where(
                        messages.c.direction == "in",
                        messages.c.message_type == "edoc",
                        messages.c.document_id == document_id,
                        messages.c.sender == sender,
                        messages.c.inbound_state == "accepted",
                    )
                )
            ).all()
            for row in found:
                checks = json.loads(row.checks) if row.checks else {}
                checks["recall"] = {"request": request_id, "reason": reason}
                await connection.execute(
                    messages.update()
                    .where(messages.c.id == row.id, messages.c.inbound_state == "accepted")
                    .values(inbound_state=state, checks=json.dumps(checks, ensure_ascii=False))
                )
        return bool(found)
