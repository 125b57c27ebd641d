"""The clerk's work on a received document: its place in the incoming register, who handles
it and by when (Nghị định 30/2020 Điều 22–23).

The incoming number (số đến) runs through the calendar year per receiving agency and is
never reused: a unique index on (recipient, year, number) settles two clerks registering at
the same moment, and the loser takes the next number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from adapters.store.base import StoreBase
from adapters.store.patterns import matches_any
from adapters.store.schema import deliveries, messages

__all__ = ["ClerkStore"]

_TRIES = 50  # each round, one of the clerks registering at once wins


class ClerkStore(StoreBase):
    async def register_incoming(self, message_id: str, year: int) -> int:
        """The document's incoming number: the next of its agency's register for ``year``,
        or the one it already has (registering twice does not take a second number)."""
        for _ in range(_TRIES):
            try:
                async with self._transaction() as connection:
                    row = (
                        await connection.execute(
                            sa.select(messages.c.recipient, messages.c.incoming_number).where(
                                messages.c.id == message_id
                            )
                        )
                    ).one()
                    if row.incoming_number is not None:
                        return int(row.incoming_number)
                    last = await connection.scalar(
                        sa.select(sa.func.max(messages.c.incoming_number)).where(
                            messages.c.recipient == row.recipient,
                            messages.c.incoming_year == year,
                        )
                    )
                    number = int(last or 0) + 1
                    await connection.execute(
                        messages.update()
                        .where(messages.c.id == message_id, messages.c.incoming_number.is_(None))
                        .values(
                            incoming_number=number, incoming_year=year, registered_at=self.now()
                        )
                    )
                    return number
            except sa.exc.IntegrityError:
                continue  # another document took that number first
        raise RuntimeError(f"no incoming number could be given to {message_id}")

    async def assign_received(self, message_id: str, to: str, due: dt.date | None) -> None:
        """Who handles the document and by when (Điều 23: người nhận, thời hạn giải quyết)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                messages.update()
                .where(messages.c.id == message_id)
                .values(assigned_to=to, handling_due=due)
            )

    async def due_received(self, agencies: Sequence[str]) -> list[dict[str, Any]]:
        """Received documents with a deadline (the one set when assigning it, else the
        sender's DueDate) not reported done: what our agencies owe (Điều 14.3b, 23)."""
        deadline = sa.func.coalesce(messages.c.handling_due, messages.c.due_date)
        rows = await self._rows(
            sa.select(
                messages.c.id,
                messages.c.code,
                messages.c.subject,
                messages.c.sender,
                messages.c.assigned_to,
                messages.c.reported_status,
                deadline.label("deadline"),
            )
            .where(
                messages.c.direction == "in",
                messages.c.message_type == "edoc",
                messages.c.inbound_state == "accepted",
                matches_any(messages.c.recipient, agencies),
                deadline.is_not(None),
                sa.func.coalesce(messages.c.reported_status, "") != "06",
            )
            .order_by(deadline)
            .limit(500)
        )
        return [row._asdict() for row in rows]

    async def answers_to(self, document_id: str, reporter: str) -> list[dict[str, Any]]:
        """The statuses ``reporter`` sent about a document, oldest first, each with how far
        it got to the sender (its delivery's state)."""
        rows = await self._rows(
            sa.select(
                messages.c.id,
                messages.c.status_code,
                messages.c.subject.label("description"),
                messages.c.created_at,
                deliveries.c.state,
                deliveries.c.last_error,
            )
            .outerjoin(deliveries, deliveries.c.message_id == messages.c.id)
            .where(
                messages.c.direction == "out",
                messages.c.message_type == "status",
                messages.c.document_id == document_id,
                messages.c.sender == reporter,
            )
            .order_by(messages.c.created_at)
        )
        return [row._asdict() for row in rows]
